import Foundation
import Tensor

/// The model switches of HSP-SAM (docs/model.md). JSON keys equal the property names;
/// unknown keys and impossible values are errors (`validate()`).
public struct HSPSAMConfig: Codable, Equatable, Sendable {
  /// What is built around the frozen LiteMedSAM (docs/model.md 5 names the baselines):
  /// - `hierarchical` (default): HSP-SAM, prompts and a neck per level, level decoders, the fusion decoder;
  /// - `single-level` (`hsp-single`): prompts, LoRA and a neck at the deepest level only, one decoder (a pretrained
  ///   copy) with tokens [M, S_3], no level decoders, no fusion;
  /// - `decoder-only`: frozen encoder and neck, no prompts, no LoRA; a pretrained copy of the mask decoder is trained
  ///   (K+1 mask tokens, no IoU token, no sparse prompt);
  /// - `positional`: a 1x1-conv pixel classifier on the frozen embedding is trained; at prediction its map gives a
  ///   box and a positive point per component, which the frozen LiteMedSAM decoder turns into the mask.
  public var architecture = Architecture.hierarchical
  /// `litemedsam` (3 levels: TinyViT stages 1-3) or `vit_b` / `vit_l` / `vit_h` (4 levels: the global blocks).
  public var backbone: ModelKind = .litemedsam
  /// K foreground classes; the model outputs K + 1 softmax channels.
  public var numClasses = 1
  /// T abstract prompts per level [choice 4; the code's sweep 1, 2, 4, 8, 16].
  public var promptsPerLevel = 4
  /// Levels whose prompts enter the encoder (1...3 for LiteMedSAM: the last block of stages 1, 2, 3; 1...4 for SAM
  /// ViT: its global blocks). Default [3] [choice, docs/training-step.md]: with LoRA from the first prompted block
  /// the adapted encoder tail is then the last block alone, and everything before it is cached, so a CPU training
  /// step costs about half of [2, 3]'s (the default until 2026-12-06); every level still gets its neck, its
  /// abstract prompts as decoder tokens and (but the deepest) its level decoder. For SAM ViT the paper's code
  /// prompts every level: [1, 2, 3, 4] (and `loraRank` 32).
  public var promptedLevels = [3]
  /// Which blocks of a prompted level get its prompts: "last-of-stage" (default: the block that ends the level,
  /// SAM ViT's global block [code]) or "all-of-stage" (every block of the level, sharing its P_l; the cacheable
  /// prefix then ends where the first prompted level starts) (docs/model.md 2).
  public var promptBlocks = PromptBlocks.lastOfStage
  /// LoRA rank r on q and v [choice 8 for LiteMedSAM].
  public var loraRank = 8
  /// Which attention blocks get LoRA: "from-first-prompt" (every block from the first prompted one on: the
  /// default, it keeps the frozen prefix cacheable), "all", "prompted-only" or "none".
  public var loraBlocks = LoRABlocks.fromFirstPrompt
  /// "pretrained": copy SAM's neck where the width matches, Kaiming for the first 1x1 conv elsewhere; "random".
  public var neckInit = Initialization.pretrained
  /// Level decoders: a copy of the pretrained mask decoder [choice] or random ([code]).
  public var levelDecoderInit = Initialization.pretrained
  /// Two-way transformer layers of each level decoder: 1 by default ([code]'s depth; a pretrained depth-1 decoder
  /// copies SAM's first layer and final attention). nil follows the init (2 for pretrained, the whole SAM decoder;
  /// 1 for random): a configuration written without the key, as every checkpoint before 2026-12-06, decodes as nil.
  public var levelDecoderDepth: Int? = 1
  /// The number of layers `levelDecoderDepth` resolves to.
  public var levelDecoderLayers: Int { levelDecoderDepth ?? (levelDecoderInit == .pretrained ? 2 : 1) }
  public var fusionInit = Initialization.pretrained
  /// Append the deepest level's projected prompts to the fusion decoder's tokens ([code]: false).
  public var fusionUsesPrompts = false
  /// The fusion decoder's output upscaling to the input (docs/model.md 3): "learned" (default): log2(input / grid)
  /// transposed-conv stages; for LiteMedSAM that is 2, SAM's own x4 (copied pretrained), for SAM ViT 4, the
  /// [code] x16 layout (random). "x4+bilinear": SAM's x4, then bilinear to the input (the same for LiteMedSAM).
  public var fusionUpscale = FusionUpscale.learned

  public init() {}

  public enum Architecture: String, ConfigChoice {
    case hierarchical, singleLevel = "single-level", decoderOnly = "decoder-only", positional
  }
  public enum PromptBlocks: String, ConfigChoice { case lastOfStage = "last-of-stage", allOfStage = "all-of-stage" }
  public enum LoRABlocks: String, ConfigChoice {
    case fromFirstPrompt = "from-first-prompt", all, promptedOnly = "prompted-only", none
  }
  /// Where a part's weights start: copied from the pretrained SAM / LiteMedSAM part, or PyTorch's random default.
  public enum Initialization: String, ConfigChoice { case pretrained, random }
  public enum FusionUpscale: String, ConfigChoice { case learned, x4Bilinear = "x4+bilinear" }

  /// Levels of the backbone: 3 for LiteMedSAM, 4 for SAM ViT.
  public var levelCount: Int { backbone == .litemedsam ? 3 : 4 }
  /// Levels whose features are decoded: all for `hierarchical`, the deepest otherwise.
  public var decodedLevels: [Int] { architecture == .hierarchical ? Array(1...levelCount) : [levelCount] }
  /// Levels with abstract prompts, a neck and a prompt projection: the decoded ones of the prompt-using architectures.
  public var promptLevels: [Int] { [.hierarchical, .singleLevel].contains(architecture) ? decodedLevels : [] }

  public enum CodingKeys: String, CodingKey, CaseIterable {
    case architecture, backbone, numClasses, promptsPerLevel, promptedLevels, promptBlocks, loraRank, loraBlocks, neckInit,
         levelDecoderInit, levelDecoderDepth, fusionInit, fusionUsesPrompts, fusionUpscale
  }

  /// Missing keys take their defaults (checkpoints written before a key existed still load).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = HSPSAMConfig()
    architecture = try c.decode(.architecture, default: d.architecture)
    backbone = try c.decode(.backbone, default: d.backbone)
    numClasses = try c.decode(.numClasses, default: d.numClasses)
    promptsPerLevel = try c.decode(.promptsPerLevel, default: d.promptsPerLevel)
    promptedLevels = try c.decode(.promptedLevels, default: d.promptedLevels)
    promptBlocks = try c.decode(.promptBlocks, default: d.promptBlocks)
    loraRank = try c.decode(.loraRank, default: d.loraRank)
    loraBlocks = try c.decode(.loraBlocks, default: d.loraBlocks)
    neckInit = try c.decode(.neckInit, default: d.neckInit)
    levelDecoderInit = try c.decode(.levelDecoderInit, default: d.levelDecoderInit)
    levelDecoderDepth = try c.decodeIfPresent(Int.self, forKey: .levelDecoderDepth)
    fusionInit = try c.decode(.fusionInit, default: d.fusionInit)
    fusionUsesPrompts = try c.decode(.fusionUsesPrompts, default: d.fusionUsesPrompts)
    fusionUpscale = try c.decode(.fusionUpscale, default: d.fusionUpscale)
  }

  public func validate() throws {
    func fail(_ text: String) -> HSPSAMConfigError { HSPSAMConfigError(message: text) }
    guard [.litemedsam, .vitB, .vitL, .vitH].contains(backbone) else {
      throw fail("backbone \(backbone.rawValue): HSP-SAM runs on litemedsam, vit_b, vit_l or vit_h")
    }
    guard (1...16).contains(numClasses) else { throw fail("numClasses must be 1...16, got \(numClasses)") }
    guard (1...64).contains(promptsPerLevel) else { throw fail("promptsPerLevel must be 1...64, got \(promptsPerLevel)") }
    guard promptedLevels.allSatisfy({ (1...levelCount).contains($0) }), Set(promptedLevels).count == promptedLevels.count else {
      throw fail("promptedLevels must be distinct values in 1...\(levelCount) for \(backbone.rawValue), got \(promptedLevels)")
    }
    switch architecture {
    case .hierarchical: break
    case .singleLevel:
      guard promptedLevels == [levelCount] else {
        throw fail("single-level prompts the deepest level only: promptedLevels must be [\(levelCount)], got \(promptedLevels)")
      }
    case .decoderOnly, .positional:
      guard promptedLevels.isEmpty, loraBlocks == .none else {
        throw fail("\(architecture.rawValue) adapts no encoder block: set promptedLevels [] and loraBlocks \"none\"")
      }
      guard architecture == .decoderOnly || numClasses == 1 else { throw fail("positional supports numClasses 1 only, got \(numClasses)") }
    }
    guard (1...2).contains(levelDecoderLayers) else {
      throw fail("levelDecoderDepth must be 1 or 2 (SAM's decoder has two layers), got \(levelDecoderLayers)")
    }
    guard (1...320).contains(loraRank) else { throw fail("loraRank must be 1...320, got \(loraRank)") }
  }
}

public struct HSPSAMConfigError: Error, LocalizedError, Equatable {
  public let message: String
  public var errorDescription: String? { message }
}
