// The frozen backbone as HSP-SAM sees it (docs/model.md 1-3): a frozen stem, then attention blocks in execution
// order, some of which end a level. A level's abstract prompts join the attention of the block that ends it, and
// its feature is that block's output. TinyViT (LiteMedSAM): blocks of stages 1-3, the last block of each stage
// ends a level and carries the stage's patch merging. SAM ViT: every block; the global-attention blocks end levels.
import Foundation
import NN
import Tensor

public protocol LevelEncoder: ImageEncoder {
  /// Attention blocks after the stem, in execution order.
  var blockCount: Int { get }
  /// Per level (shallowest first): the index of the block that ends it.
  var levelBlocks: [Int] { get }
  /// Per level: the width of its feature, and of the tokens its prompts join.
  var levelWidths: [Int] { get }
  var promptWidths: [Int] { get }
  /// The embedding grid side (64 for LiteMedSAM at 256 and SAM at 1024).
  var gridSize: Int { get }
  /// The pretrained neck (feature of the deepest level -> the 256-channel image embedding).
  var neck: Sequential { get }
  /// (B, 3, S, S) -> tokens entering block 0 (frozen, prompt-independent).
  func stem(_ image: Tensor) throws -> Tensor
  /// Runs block `index` (and, for TinyViT, the patch merging that follows a stage's last block).
  func block(_ index: Int, _ x: Tensor, prompts: Tensor?) throws -> Tensor
  func attachLoRA(block index: Int, rank: Int) throws
  /// A block's output tokens as a feature map (B, C, g, g).
  func featureMap(_ tokens: Tensor) throws -> Tensor
}

extension TinyViT: LevelEncoder {
  public var blockCount: Int { blockPositions.count }
  public var levelBlocks: [Int] {
    var ends: [Int] = [], total = 0
    for s in 1..<stages.count { total += stages[s].blocks.count; ends.append(total - 1) }
    return ends
  }
  /// Feature widths after each stage's merge, and prompt widths (the block's own width).
  public var levelWidths: [Int] { [config.embedDims[2], config.embedDims[3], config.embedDims[3]] }
  public var promptWidths: [Int] { Array(config.embedDims[1...3]) }

  public func stem(_ image: Tensor) throws -> Tensor {
    try stages[0](patchEmbed(image.channelsLast()))
  }

  public func block(_ index: Int, _ x: Tensor, prompts: Tensor?) throws -> Tensor {
    let (s, j) = blockPositions[index]
    let stage = stages[s]
    var y: Tensor
    if let block = stage.blocks[j] as? TinyViTBlock {
      y = try block(x, prompts: prompts)
    } else {
      y = try stage.blocks[j](x)
    }
    if j == stage.blocks.count - 1, let downsample = stage.downsample { y = try downsample(y) }
    return y
  }

  public func attachLoRA(block index: Int, rank: Int) throws {
    let (s, j) = blockPositions[index]
    try (stages[s].blocks[j] as? TinyViTBlock)?.attn.attachLoRA(rank: rank)
  }

  public func featureMap(_ tokens: Tensor) throws -> Tensor {
    let g = gridSize
    return try tokens.view([tokens.size(0), g, g, -1]).permute([0, 3, 1, 2])
  }
}

extension ImageEncoderViT: LevelEncoder {
  public var blockCount: Int { blocks.count }
  public var levelBlocks: [Int] { config.globalAttnIndexes }
  public var levelWidths: [Int] { config.globalAttnIndexes.map { _ in config.embedDim } }
  public var promptWidths: [Int] { levelWidths }
  public var gridSize: Int { config.gridSize }

  public func stem(_ image: Tensor) throws -> Tensor {
    try patchEmbed(image).permute([0, 2, 3, 1]) + posEmbed
  }

  public func block(_ index: Int, _ x: Tensor, prompts: Tensor?) throws -> Tensor {
    try blocks[index](x, prompts: prompts)
  }

  public func attachLoRA(block index: Int, rank: Int) throws {
    try blocks[index].attn.attachLoRA(rank: rank)
  }

  public func featureMap(_ tokens: Tensor) throws -> Tensor { try tokens.permute([0, 3, 1, 2]) }
}
