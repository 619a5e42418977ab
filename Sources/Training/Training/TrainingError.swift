import Foundation

/// A parameter a library error can point the user at. The library names it by its Swift name
/// (`Trainer.Options.resume`); the command line maps it to its flag (`--resume`) with `message(naming:)`.
public enum TrainingParameter: String, Sendable, CaseIterable {
  case output, resume, initialWeights, datasets, datasetName, validationFraction, configuration, checkpoint

  /// How the library names it.
  public var swiftName: String {
    switch self {
    case .datasetName: return "Trainer.DataSource.name"
    case .configuration: return "TrainingConfig"
    case .checkpoint: return "ModelSources.checkpoint"
    default: return "Trainer.Options.\(rawValue)"
    }
  }
}

/// Why a training run (or the reading of its files) stopped: each case names the file, folder or value at fault.
public enum TrainingError: Error, LocalizedError, Equatable {
  /// A configuration layer (a file, inline JSON or the defaults) that is not valid: `source` names it.
  case configuration(source: String, problem: String)
  case runExists(folder: String)
  case initialWeightsWithResume
  case cannotMakeRunFolder(String, reason: String)
  case resumeWithoutLast(String)
  case resumeConfigurationDiffers(configFile: String)
  case initialModelDiffers(checkpoint: String)
  case noDatasets
  case badWeight(folder: String, weight: Double)
  case maskRuleClasses(dataset: String, rule: String, classes: Int, modelClasses: Int)
  case duplicateDatasetName(String)
  case nothingLeftToTrain(folder: String, samples: Int)
  /// A signal during the prefix cache; `cacheFolder` keeps the copies computed so far (nil: no cache folder).
  case interruptedDuringCache(signal: String, done: Int, total: Int, cacheFolder: String?)
  case interrupted(signal: String, step: Int, last: String)
  /// The loss stopped being finite; `saved`: what `last` holds (nil: nothing yet), and whether its weights still
  /// look trainable.
  case nonFiniteLoss(value: Double, epoch: Int, step: Int, last: String, saved: (step: Int, epoch: Int)?, savedDiverged: Bool,
                     learningRate: Double, gradientClip: Double, largestWeight: Double)
  case notARunFolder(log: String, folder: String)
  case badLogLine(log: String, line: Int)
  case incompleteCacheEntry(String)
  /// The prefix cache's folder lacks room for the copies still to compute (`bytesPerCopy` each, measured on the first).
  case prefixCacheDiskFull(folder: String, copies: Int, bytesPerCopy: Int, freeBytes: Int)

  public var errorDescription: String? { message(naming: \.swiftName) }

  /// The message with each parameter named by `name` (the command line passes its flags).
  public func message(naming name: (TrainingParameter) -> String) -> String {
    switch self {
    case .configuration(let source, let problem): return "\(source): \(problem)"
    case .runExists(let folder):
      return "\(folder) already holds a run (last.safetensors): use \(name(.resume)) or another \(name(.output))"
    case .initialWeightsWithResume:
      return "\(name(.initialWeights)) and \(name(.resume)) together: a resumed run continues from its own last.safetensors"
    case .cannotMakeRunFolder(let folder, let reason): return "\(name(.output)) \(folder): cannot make the run folder (\(reason))"
    case .resumeWithoutLast(let path): return "\(name(.resume)): \(path) does not exist"
    case .resumeConfigurationDiffers(let file):
      return "\(name(.resume)): \(file) differs from the configuration the run was started with"
    case .initialModelDiffers(let path):
      return "\(name(.initialWeights)) \(path): its \"model\" configuration differs from this run's " +
        "(without \(name(.configuration)) the checkpoint's own is taken)"
    case .noDatasets: return "no \(name(.datasets)) given"
    case .badWeight(let folder, let weight): return "\(folder): weight must be > 0, got \(weight)"
    case .maskRuleClasses(let dataset, let rule, let classes, let modelClasses):
      return "\(dataset): mask rule \(rule) gives \(classes) foreground class(es), the model has numClasses \(modelClasses)"
    case .duplicateDatasetName(let dataset): return "two \(name(.datasets)) are named \(dataset): name them with \(name(.datasetName))"
    case .nothingLeftToTrain(let folder, let samples):
      return "\(folder): its \(samples) sample(s) all went to the validation split, none is left to train on " +
        "(\(name(.validationFraction)) 0 trains on every sample, with no validation)"
    case .interruptedDuringCache(let signal, let done, let total, let cacheFolder):
      let kept = cacheFolder.map { "the \(done) of \(total) copies computed so far are kept under \($0), so the same run goes on from them" }
        ?? "nothing is kept (no cache folder)"
      return "interrupted by \(signal) during the prefix cache: \(kept)"
    case .interrupted(let signal, let step, let last):
      return "interrupted by \(signal) at step \(step): \(last) holds the run, continue with \(name(.resume))"
    case .nonFiniteLoss(let value, let epoch, let step, let last, let saved, let diverged, let learningRate, let clip, let largest):
      let what = "loss became \(value) at epoch \(epoch), step \(step): stopped"
      let change = String(format: "learningRate (now %g) or gradientClip (now %g)", learningRate, clip)
      guard let saved else {
        return "\(what); nothing was saved (the first \(last) is written at the end of epoch 1): start again with a lower \(change)"
      }
      let from = "\(last) holds step \(saved.step) (epoch \(saved.epoch))"
      if diverged {
        return String(format: "%@; %@, but its largest trained weight is %.1e, so it would diverge again: start again with a lower %@",
                      what, from, largest, change)
      }
      return "\(what); \(from): start a new run from it with a lower \(change) (\(name(.resume)) keeps the configuration): " +
        "\(name(.initialWeights)) \(last) with this run's data and configuration plus \(name(.configuration)) " +
        "'{\"learningRate\": \(learningRate / 2)}'"
    case .notARunFolder(let log, let folder): return "\(log): cannot be read (is \(folder) a run folder of hspsam train?)"
    case .badLogLine(let log, let line): return "\(log): line \(line) is not a log line of hspsam train"
    case .incompleteCacheEntry(let path): return "\(path): incomplete cache entry"
    case .prefixCacheDiskFull(let folder, let copies, let perCopy, let free):
      let gb = { (bytes: Int) in bytes < 1_000_000_000 ? String(format: "%.0f MB", Double(bytes) / 1e6) : String(format: "%.1f GB", Double(bytes) / 1e9) }
      return "the prefix cache needs \(gb(copies * perCopy)) more under \(folder) (\(copies) copies of " +
        String(format: "%.1f MB", Double(perCopy) / 1e6) + ") and 1 GB spare, but that disk has \(gb(free)) free: " +
        "free space there, move the cache with HSPSAM_CACHE, or lower cachedVariants (nothing was trained; the " +
        "copies written are kept)"
    }
  }

  public static func == (a: TrainingError, b: TrainingError) -> Bool { a.message(naming: \.rawValue) == b.message(naming: \.rawValue) }
}
