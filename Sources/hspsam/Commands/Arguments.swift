import ArgumentParser
import Data
import Foundation
import Tensor
import Training

/// `--device`: where the model runs. The default link is CPU-only; `cuda` loads libtorch's CUDA backend, which
/// `HSPSAM_CUDA=1 bash scripts/setup.sh` installs beside it (with the NVIDIA libraries it needs).
/// `--base-checkpoint`: the frozen weights a trained checkpoint was trained on (`predict`, `evaluate`).
struct BaseCheckpointOptions: ParsableArguments {
  @Option(help: "Base weights the checkpoint was trained on: LiteMedSAM (default: the set-up copy), SAM's for a vit_b/l/h model, or 'random' (a run trained on seeded random weights).")
  var baseCheckpoint: String?

  var path: String { baseCheckpoint ?? Paths.liteMedSAMWeights }
}

/// `--max-pixels`: the largest image (width x height) a command decodes (`ImageIO.pixelLimit`).
struct PixelLimitOptions: ParsableArguments {
  @Option(help: "Refuse images with more pixels than this (width x height) before decoding them; each is held whole in memory.")
  var maxPixels = ImageIO.pixelLimit

  func validate() throws {
    guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1, got \(maxPixels)") }
  }

  func apply() { ImageIO.pixelLimit = maxPixels }
}

struct DeviceOptions: ParsableArguments {
  @Option(help: "Where the model runs: cpu, cuda or cuda:N (CUDA needs an NVIDIA GPU and HSPSAM_CUDA=1 bash scripts/setup.sh).")
  var device = "cpu"

  /// The device, with CUDA loaded and checked when asked for; `localRank`: see `ModelSources.device`.
  func resolve(localRank: Int? = nil) throws -> Device {
    do { return try ModelSources.device(device, localRank: localRank) } catch let error as ModelSourceError {
      throw CommandError.option("--device", reason: "\(device): \(error.localizedDescription)")
    }
  }
}

extension LiteMedSAMBaseline.Mode: ExpressibleByArgument {}

/// `--tta` / `--tta-dihedral`: test-time augmentation of a trained model's prediction (`predict`, `evaluate`).
struct TestTimeAugmentationOptions: ParsableArguments {
  @Flag(name: .customLong("tta"), help: "Test-time flips: average the logits over the image and its horizontal, vertical and double flips (4x the time).")
  var flips = false
  @Flag(name: .customLong("tta-dihedral"), help: "Test-time rotations and flips: average the logits over all 8 of the image's (padded square's) rotations and reflections (8x the time).")
  var dihedral = false

  var augmentation: TestTimeAugmentation { dihedral ? .dihedral : flips ? .flips : .none }

  func validate() throws {
    guard !(flips && dihedral) else { throw ValidationError("--tta and --tta-dihedral exclude each other (the dihedral copies include the flips)") }
  }
}

/// `--box-refine`: self-prompted box refinement of a one-class model's prediction (`predict`, `evaluate`).
struct BoxRefinementOptions: ParsableArguments {
  @Flag(help: "Refine with boxes: each object the model finds is boxed, and the frozen LiteMedSAM decodes the image from those boxes (one more LiteMedSAM pass per image; one-class models).")
  var boxRefine = false
  @Option(help: "With --box-refine: each side of a box moves out by this fraction of its width or height (default 0.1).")
  var boxPadding: Double?
  @Option(help: "With --box-refine: objects smaller than this fraction of the largest get no box (default 0.25).")
  var boxMinFraction: Double?

  func validate() throws {
    guard boxRefine || (boxPadding == nil && boxMinFraction == nil) else {
      throw ValidationError("--box-padding and --box-min-fraction need --box-refine")
    }
    if let boxPadding, !(0...1).contains(boxPadding) { throw ValidationError("--box-padding must be in 0...1") }
    if let boxMinFraction, !(0...1).contains(boxMinFraction) { throw ValidationError("--box-min-fraction must be in 0...1") }
  }

  /// The library's settings, nil without --box-refine.
  var settings: TrainedModel.BoxRefinementSettings? {
    boxRefine ? TrainedModel.BoxRefinementSettings(padding: boxPadding, minimumAreaFraction: boxMinFraction) : nil
  }
}

extension TrainedModel {
  /// The model a command's options name, with errors naming those options.
  init(checkpoint: String?, base: BaseCheckpointOptions, device: Device, testTime: TestTimeAugmentationOptions,
       refinement: BoxRefinementOptions) throws {
    do {
      try self.init(checkpoint: Paths.resolveCheckpoint(checkpoint), baseCheckpoint: base.path, device: device,
                    testTimeAugmentation: testTime.augmentation, boxRefinement: refinement.settings)
    } catch ModelCapabilityError.boxRefinementNeedsOneClass(let classes) {
      throw CommandError.option("--box-refine", reason: "needs a one-class model; this one has \(classes) classes")
    }
  }
}

/// `--masks [NAME=]RULE`: how a --data folder's mask values become classes (`train`, `evaluate`). Without NAME the
/// rule is every other folder's; the default is binary (grey > 127).
struct MaskRuleOptions: ParsableArguments {
  @Option(name: .customLong("masks"), help: ArgumentHelp(
    "Mask rule, [NAME=]RULE: threshold:N (grey > N is foreground), labels:V0,V1,... (grey Vi is class i) or palette:RRGGBB,... (colour i is class i). Default threshold:127.",
    discussion: "Repeatable: NAME= gives one --data its own rule; a rule without NAME applies to the others. Multi-class rules need a model with numClasses equal to the number of values minus one."))
  var rules: [String] = []

  private func parse(_ entry: String) throws -> (name: String?, encoding: MaskEncoding) {
    let (name, rule) = DatasetArgument.parse(entry)
    do { return (name, try MaskEncoding(rule: rule)) } catch let error as MaskEncoding.RuleError {
      throw ValidationError("--masks \(entry): \(error.description)")
    }
  }

  func validate() throws {
    let parsed = try rules.map(parse)
    guard parsed.filter({ $0.name == nil }).count <= 1 else { throw ValidationError("--masks: at most one rule without NAME=") }
    let named = parsed.compactMap(\.name)
    if let twice = named.first(where: { name in named.filter { $0 == name }.count > 1 }) {
      throw ValidationError("--masks: two rules for \(twice)")
    }
  }

  /// One rule per dataset name, in order; a NAME that names no --data is an error listing the names.
  func encodings(names: [String], default fallback: MaskEncoding) throws -> [MaskEncoding] {
    let parsed = try rules.map(parse)
    for name in parsed.compactMap(\.name) { _ = try DatasetArgument.index(of: name, in: names, option: "--masks \(name)=...") }
    let shared = parsed.first { $0.name == nil }?.encoding ?? fallback
    return names.map { name in parsed.first { $0.name == name }?.encoding ?? shared }
  }
}
