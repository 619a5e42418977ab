import Data
import Foundation
import Models
import Tensor

/// The data side of a run: each dataset checked and split, the frozen prefix of every training copy and
/// validation image cached, the seeded order of an epoch, and the message of a loss gone non-finite.
extension Trainer {
  /// One training dataset, split: its training samples, its own seeded validation samples, where it came from.
  typealias TrainingPart = (name: String, train: SegmentationDataset, validation: SegmentationDataset, source: DataSource)

  /// Each dataset's training split minus its own seeded validation split, every file checked (or, with
  /// `skipInvalid`, the unreadable pairs left out and returned) before anything is written.
  func trainingParts() throws -> (parts: [TrainingPart], skipped: [FileError]) {
    guard !options.datasets.isEmpty else { throw TrainingError.noDatasets }
    var parts: [TrainingPart] = []
    var skipped: [FileError] = []
    for source in options.datasets {
      guard source.weight > 0, source.weight.isFinite else { throw TrainingError.badWeight(folder: source.folder, weight: source.weight) }
      var full = try SegmentationDataset(root: source.folder, name: source.name, split: options.split, encoding: source.encoding)
      if options.skipInvalid {
        let listed = full.samples.count, checkStart = Date()
        let (readable, bad) = full.withoutUnreadablePairs(decoding: true)
        for error in bad { say("skipped \(error.path): \(error.reason)") }
        say(String(format: "\(full.name): %d image/mask pairs decoded to check them in %.0f s", listed, Date().timeIntervalSince(checkStart)))
        guard !readable.samples.isEmpty else {
          throw SegmentationDataset.nothingReadable(full.name, listed: listed)
        }
        if !bad.isEmpty { say("\(full.name): \(bad.count) of \(listed) image/mask pairs left out (--skip-invalid; named above)") }
        full = readable
        skipped += bad
      } else {
        try full.checkFiles()  // a bad file is named now, not during the prefix cache
      }
      // A rule with other classes than the model's would train on masks the model cannot express (or never see
      // some of its classes): refused before anything is written.
      guard source.encoding.classCount - 1 == config.model.numClasses else {
        throw TrainingError.maskRuleClasses(dataset: full.name, rule: source.encoding.rule, classes: source.encoding.classCount - 1,
                                            modelClasses: config.model.numClasses)
      }
      guard !parts.contains(where: { $0.name == full.name }) else {
        throw TrainingError.duplicateDatasetName(full.name)
      }
      let (train, validation) = full.splitValidation(fraction: options.validationFraction, seed: config.seed)
      guard !train.samples.isEmpty else {
        throw TrainingError.nothingLeftToTrain(folder: source.folder, samples: full.samples.count)
      }
      parts.append((full.name, train, validation, source))
    }
    return (parts, skipped)
  }

  /// The frozen encoder prefix of every training copy and validation image, computed once (or read back from
  /// `cacheFolder`): per dataset, its training cache and, if it has a validation split, its validation cache.
  /// With a process group and a cache folder, each rank first computes and writes its share of the missing copies,
  /// the ranks wait for each other, then every rank reads them all: each image's prefix is computed once.
  func cachePrefixes(parts: [TrainingPart], model: HSPSAM, transform: SampleTransform, baseBytes: Int,
                     stopDuringCache: @escaping (Int, Int) throws -> Void)
    throws -> (train: [PrefixCache], validation: [(name: String, cache: PrefixCache, count: Int)], seconds: Double, stored: Int) {
    let cacheStart = Date()
    // Everything the cached prefix depends on: the base weights, where the adapted blocks start, the input transform.
    let keyEncoder = JSONEncoder()
    keyEncoder.outputFormatting = [.sortedKeys]  // a stable text: the key must not depend on dictionary order
    let augmentationJSON = String(decoding: try keyEncoder.encode(config.augmentation), as: UTF8.self)
    let memoryBudget = PrefixMemoryBudget(bytes: options.prefixMemoryBytes)
    var trainCaches: [PrefixCache] = []
    var validationCaches: [(name: String, cache: PrefixCache, count: Int)] = []
    let cacheBatch = 8  // images per prefix forward while caching
    let group = options.processGroup.flatMap { $0.worldSize > 1 ? $0 : nil }
    let share = options.cacheFolder != nil ? group.map { (rank: $0.rank, worldSize: $0.worldSize) } : nil
    for pass in share == nil ? [nil] : [share, nil] {
    if pass == nil, let group, share != nil {
      // The others' shares may take as long as this one's: a long wait, not the group's timeout.
      try group.barrier(timeout: Trainer.cacheBarrierTimeout)
    }
    trainCaches = []
    validationCaches = []
    for part in parts {
      say("caching the frozen encoder prefix of \(part.name): \(part.train.samples.count) images x \(config.cachedVariants) copies, " +
          "\(part.validation.samples.count) validation images" + (part.train.maskSummary.map { " (\($0))" } ?? ""))
      func cacheKey(random: String) -> String {
        "base=\(baseBytes) start=\(model.adaptedStart) backbone=\(config.model.backbone.rawValue) " +
          "levels=\(config.model.decodedLevels) size=\(config.inputSize) norm=\(config.inputNormalization.rawValue) " +
          "\(random)data=\(URL(fileURLWithPath: part.source.folder).standardizedFileURL.path)" +
          (config.resize == .longestSidePad ? "" : " resize=\(config.resize.rawValue)") +  // default: keys of earlier caches
          (part.source.encoding == .binary ? "" : " masks=\(part.source.encoding.rule)")  // the cache holds the class masks
      }
      // The augmented copies keep the key text of earlier caches; the plain copies, which draw nothing at random,
      // drop the seed and the augmentation from it.
      let plainKey = cacheKey(random: ""), augmentedKey = cacheKey(random: "seed=\(config.seed) aug=\(augmentationJSON) ")
      var meter: ProgressMeter?
      trainCaches.append(try PrefixCache(model: model, dataset: part.train, transform: transform, variants: config.cachedVariants,
                                         seed: config.seed, batchSize: cacheBatch, folder: options.cacheFolder, key: plainKey,
                                         augmentedKey: augmentedKey, budget: memoryBudget, share: pass,
                                         freeBytes: options.freeDiskBytes) { done, total in
        // Copies read from disk arrive in one jump; the rate and ETA count the computed ones (one batch a call).
        if let last = meter?.done, done - last <= cacheBatch { meter!.update(done: done) } else { meter = ProgressMeter(total: total, done: done) }
        self.options.progress?(.cacheProgress(meter!))
        try stopDuringCache(done, total)
      })
      if !part.validation.samples.isEmpty {
        validationCaches.append((part.name, try PrefixCache(
          model: model, dataset: part.validation, transform: transform, variants: 1, seed: config.seed, batchSize: cacheBatch,
          folder: options.cacheFolder, key: plainKey, augmentedKey: augmentedKey, budget: memoryBudget, share: pass,
          freeBytes: options.freeDiskBytes, progress: stopDuringCache), part.validation.samples.count))
      }
      say("")
    }
    }
    let cacheSeconds = Date().timeIntervalSince(cacheStart)
    let stored = (trainCaches + validationCaches.map(\.cache)).reduce(0) { $0 + $1.storedCount }
    let inMemory = trainCaches.reduce(0) { $0 + $1.byteCount }
    say(String(format: "  cached in %.0f s (%.0f MB in memory)", cacheSeconds, Double(inMemory) / 1e6) +
        (stored == 0 ? "" : String(format: "; %d copies past the %.0f MB memory budget (HSPSAM_PREFIX_MEMORY_MB) are read from %@ per batch",
                                   stored, Double(options.prefixMemoryBytes) / 1e6, options.cacheFolder?.path ?? "")))
    return (trainCaches, validationCaches, cacheSeconds, stored)
  }

  /// The error for a loss that is no longer finite: whether `last` holds an earlier state, from which step, whether
  /// its weights still look trainable, and what to change (a resume keeps the configuration, so a new run is needed).
  static func nonFiniteLoss(_ value: Double, epoch: Int, step: Int, last: String,
                            saved: (step: Int, epoch: Int, largestWeight: Double)?, config: TrainingConfig) -> TrainingError {
    let largest = saved?.largestWeight ?? 0
    return .nonFiniteLoss(value: value, epoch: epoch, step: step, last: last, saved: saved.map { ($0.step, $0.epoch) },
                          savedDiverged: !largest.isFinite || largest > 1e4, learningRate: config.learningRate,
                          gradientClip: config.gradientClip, largestWeight: largest)
  }

  /// One epoch's sample order over the union of datasets: dataset d contributes `draws[d]` of its `sizes[d]`
  /// samples (whole shuffled passes, then a seeded subset), everything shuffled together. With one dataset of
  /// weight 1 this is a plain shuffle of all samples.
  static func epochOrder(sizes: [Int], offsets: [Int], draws: [Int], using generator: inout SplitMix64) -> [Int] {
    var order: [Int] = []
    for (d, size) in sizes.enumerated() {
      var remaining = draws[d]
      while remaining > 0 {
        var pass = Array(offsets[d]..<(offsets[d] + size))
        if sizes.count > 1 || remaining < size { pass.shuffle(using: &generator) }
        order += pass.prefix(remaining)
        remaining -= Swift.min(remaining, size)
      }
    }
    order.shuffle(using: &generator)
    return order
  }

}
