import Foundation
import Models
import NN
import Tensor

/// A run's checkpoint: only what was trained (safetensors), the optimiser state, and metadata naming the
/// configuration and the base weights it needs. Written atomically.
public enum RunCheckpoint {
  public static let modelPrefix = "model."
  public static let optimizerPrefix = "optimizer."
  /// An 8-bit export's per-row scales: `scale.<parameter>` beside its `model.<parameter>` (uint8, zero point 128).
  public static let scalePrefix = "scale."
  /// The weight average (`emaDecay`) travels with the optimiser state: `optimizer.ema.<parameter>`.
  public static let averagePrefix = "ema."

  public struct Metadata: Codable, Equatable {
    public var epoch: Int
    public var step: Int
    public var bestValidationDice: Double
    public var validationDice: Double?
    public var config: TrainingConfig
    /// The base checkpoint's file name and size: a checkpoint for other base weights is refused.
    public var baseCheckpoint: String
    public var baseCheckpointBytes: Int
    /// The checkpoint a fine-tuning run started from (`hspsam train --init`), by file path as given.
    public var initializedFrom: String? = nil
    /// The checkpoints a weight average was made from (`hspsam average`), by file path as given.
    public var averagedFrom: [String]? = nil
    /// Wall time of the run up to this save, over all its invocations (the prefix cache included): what a
    /// resumed run's log and `hspsam curves` count training hours from. nil in checkpoints before 2026-12-06.
    public var elapsedSeconds: Double? = nil
    /// Saved inside an epoch (a signal, `--max-steps`): the sum of that epoch's step losses and their count so far,
    /// so the resumed run logs the epoch's mean over all its steps, as an uninterrupted run does.
    public var epochLossSum: Double? = nil
    public var epochSteps: Int? = nil
    /// The number of data-parallel ranks that trained it when more than one: a resume with another number converts
    /// the position inside the epoch (its images taken) to the new number's steps.
    public var worldSize: Int? = nil
  }

  public static func save(model: HSPSAM, optimizer: (any Optimizer)?, average: ExponentialMovingAverage? = nil,
                          metadata: Metadata, to path: String) throws {
    var tensors = model.trainableParameters().map { (modelPrefix + $0.name, $0.tensor) }
    if let optimizer { tensors += try optimizer.stateTensors().map { (optimizerPrefix + $0.name, $0.tensor) } }
    if let average { tensors += try average.stateTensors().map { (optimizerPrefix + averagePrefix + $0.name, $0.tensor) } }
    try write(tensors, metadata: metadata, to: path)
  }

  /// Writes tensors with the metadata every hspsam checkpoint carries (plus `extra` string entries).
  private static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: Metadata, extra: [String: String] = [:],
                            to path: String) throws {
    let json = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
    try Safetensors.write(tensors, metadata: extra.merging(["hspsam": json, "format": "hspsam-run-1"]) { $1 }, to: path)
  }

  /// How an export stores the trained tensors.
  public enum Precision: String, Sendable {
    case float32, float16
    /// Matrices and convolution kernels of 4,096 elements or more as 8 bits per element with one float32 scale per
    /// output row (symmetric, round to nearest: w ~ (q - 128) * scale, scale = max |row| / 127); the rest float16.
    case int8
  }

  /// Writes a shippable copy of a checkpoint: trained tensors only (no optimiser state), in `precision` (restoring
  /// converts back to float32), same metadata. Refuses to overwrite an existing file.
  /// `notes`: further text entries of the file's metadata (a shipped model's training command and data).
  public static func export(from source: String, to target: String, precision: Precision, notes: [String: String] = [:]) throws {
    guard !FileManager.default.fileExists(atPath: target) else { throw RunCheckpointError.exists(target) }
    if let reserved = notes.keys.first(where: { ["hspsam", "format", "exportedFrom", "precision"].contains($0) }) {
      throw RunCheckpointError.reservedMetadataKey(reserved)
    }
    let (metadata, model, _) = try read(source)
    var tensors: [(name: String, tensor: Tensor)] = []
    for (name, value) in model.sorted(by: { $0.key < $1.key }) {
      switch precision {
      case .float32: tensors.append((modelPrefix + name, value))
      case .float16: tensors.append((modelPrefix + name, try value.to(.float16)))
      case .int8:
        if value.rank >= 2, value.count >= 4096 {
          let (codes, scales) = try quantizeRows(value.to(.float32))
          tensors += [(modelPrefix + name, codes), (scalePrefix + name, scales)]
        } else {
          tensors.append((modelPrefix + name, try value.to(.float16)))
        }
      }
    }
    try write(tensors, metadata: metadata, extra: notes.merging(["exportedFrom": URL(fileURLWithPath: source).lastPathComponent,
                                                                 "precision": precision.rawValue]) { $1 }, to: target)
  }

  /// Per-row symmetric 8-bit codes (uint8, zero point 128) and their float32 scales.
  static func quantizeRows(_ weight: Tensor) throws -> (codes: Tensor, scales: Tensor) {
    try Torch.withNoGrad {
      let rows = try weight.reshape([weight.size(0), -1])
      // An all-zero row keeps scale 1/127 (its codes are all 128), never 0.
      let scales = try rows.abs().max(dims: [1], keepDim: true).clamp(min: 1e-30) / 127
      let codes = try ((rows / scales).round() + 128).clamp(min: 1, max: 255).to(.uint8).reshape(weight.shape)
      return (codes, try scales.reshape([weight.size(0)]))
    }
  }

  /// The float32 weights of 8-bit codes and their per-row scales.
  static func dequantizeRows(_ codes: Tensor, scales: Tensor) throws -> Tensor {
    let rows = try (codes.to(.float32) - 128).reshape([codes.size(0), -1]) * scales.to(.float32).unsqueeze(1)
    return try rows.reshape(codes.shape)
  }

  /// Writes the element-wise mean of several checkpoints' trained tensors (a uniform "model soup", Wortsman et al.,
  /// ICML 2022): fine-tunes that share a starting point stay in one basin, and their average often generalises
  /// better than any one of them at no inference cost. Every source must be of the same model (configuration's
  /// model, input size, normalisation and resize, base weights, tensor names and shapes); the metadata is the
  /// first source's with `averagedFrom` set; tensors are float32 (`export` halves them). Refuses to overwrite an existing file.
  public static func average(_ sources: [String], to target: String) throws {
    guard sources.count >= 2 else { throw RunCheckpointError.tooFewToAverage(sources.count) }
    guard !FileManager.default.fileExists(atPath: target) else { throw RunCheckpointError.exists(target) }
    let (first, firstTensors, _) = try read(sources[0])
    let names = firstTensors.keys.sorted()
    // Accumulate in float32 whatever the sources hold (exports are float16).
    let total = try Dictionary(uniqueKeysWithValues: names.map { ($0, try firstTensors[$0]!.to(.float32)) })
    for source in sources.dropFirst() {
      let (metadata, tensors, _) = try read(source)
      let (a, b) = (first.config, metadata.config)
      guard a.model == b.model, a.inputSize == b.inputSize, a.normalization == b.normalization, a.resize == b.resize else {
        throw RunCheckpointError.otherModel(source, first: sources[0])
      }
      guard metadata.baseCheckpointBytes == first.baseCheckpointBytes else {
        throw RunCheckpointError.otherBaseThanFirst(source, base: metadata.baseCheckpoint, first: sources[0], firstBase: first.baseCheckpoint)
      }
      guard tensors.keys.sorted() == names else {
        throw RunCheckpointError.tensorNamesDiffer(source, first: sources[0])
      }
      for name in names {
        let value = tensors[name]!
        guard value.shape == total[name]!.shape else {
          throw RunCheckpointError.shapeDiffers(source, tensor: name, shape: value.shape, first: sources[0], firstShape: total[name]!.shape)
        }
        try total[name]!.addInPlace(value.to(.float32))
      }
    }
    var metadata = first
    metadata.averagedFrom = sources
    let scale = 1 / Double(sources.count)
    let tensors = try names.map { (modelPrefix + $0, try total[$0]! * scale) }
    try write(tensors, metadata: metadata, to: target)
  }

  /// Reads a checkpoint's metadata and tensors; errors name the file.
  public static func read(_ path: String) throws -> (metadata: Metadata, model: [String: Tensor], optimizer: [String: Tensor]) {
    let (tensors, raw) = try Safetensors.read(path: path)
    guard let text = raw["hspsam"], let metadata = try? JSONDecoder().decode(Metadata.self, from: Data(text.utf8)) else {
      throw RunCheckpointError.notARunCheckpoint(path)
    }
    var model: [String: Tensor] = [:], optimizer: [String: Tensor] = [:], scales: [String: Tensor] = [:]
    for (name, tensor) in tensors {
      if name.hasPrefix(modelPrefix) { model[String(name.dropFirst(modelPrefix.count))] = tensor }
      if name.hasPrefix(optimizerPrefix) { optimizer[String(name.dropFirst(optimizerPrefix.count))] = tensor }
      if name.hasPrefix(scalePrefix) { scales[String(name.dropFirst(scalePrefix.count))] = tensor }
    }
    for (name, scale) in scales {  // an 8-bit export: back to float32
      guard let codes = model[name], codes.dtype == .uint8, scale.rank == 1, scale.size(0) == codes.size(0) else {
        throw RunCheckpointError.scaleMismatch(path, tensor: name)
      }
      model[name] = try dequantizeRows(codes, scales: scale)
    }
    return (metadata, model, optimizer)
  }

  /// The checkpoint file `parameter` names: a run folder means its best.safetensors. Errors name the parameter.
  public static func resolve(_ checkpoint: String, parameter: TrainingParameter) throws -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: checkpoint, isDirectory: &isDirectory) else {
      throw RunCheckpointError.noSuchCheckpoint(checkpoint, parameter: parameter)
    }
    let path = isDirectory.boolValue ? URL(fileURLWithPath: checkpoint).appendingPathComponent("best.safetensors").path : checkpoint
    guard Safetensors.isSafetensorsPath(path) else {
      throw RunCheckpointError.notACheckpointFile(path)
    }
    return path
  }

  /// Refuses a checkpoint trained on other base weights than `baseCheckpoint` (compared by size).
  public static func checkBase(_ metadata: Metadata, of path: String, against baseCheckpoint: String) throws {
    let baseBytes = (try? TrainingConfig.baseBytes(baseCheckpoint)) ?? -1
    guard baseBytes == metadata.baseCheckpointBytes, (baseCheckpoint == TrainingConfig.randomBase) == (metadata.baseCheckpoint == TrainingConfig.randomBase) else {
      throw RunCheckpointError.trainedOnOtherBase(path, base: metadata.baseCheckpoint, bytes: metadata.baseCheckpointBytes,
                                               given: baseCheckpoint, givenBytes: baseBytes)
    }
  }

  /// Loads trained tensors into `model`: every trainable parameter must be present with its shape.
  public static func restore(_ tensors: [String: Tensor], into model: HSPSAM, source: String) throws {
    let targets = model.trainableParameters()
    var mismatch = StateDictMismatch(source: source)
    for (name, tensor) in targets {
      guard let value = tensors[name] else { mismatch.missingKeys.append(name); continue }
      if value.shape != tensor.shape { mismatch.shapeMismatches.append((name, tensor.shape, value.shape)) }
    }
    let known = Set(targets.map(\.name))
    mismatch.unexpectedKeys = tensors.keys.filter { !known.contains($0) }.sorted()
    if !mismatch.isEmpty { throw mismatch }
    try Torch.withNoGrad { for (name, tensor) in targets { try tensor.copyFrom(tensors[name]!) } }
  }
}
