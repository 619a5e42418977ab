import Data
import Foundation
import Models
import Tensor

/// One cached training example: the frozen encoder prefix of an (augmented) image, its mask, in float16.
struct CachedExample {
  let tokens: Tensor
  let features: [Int: Tensor]
  let mask: Tensor

  var byteCount: Int { tokens.count * 2 + features.values.reduce(0) { $0 + $1.count * 2 } + mask.count }
}

/// One copy of the cache: held in memory, or only in its file (past the memory budget), read again for each batch
/// that draws it; the system's page cache then keeps what fits.
enum CachedCopy {
  case held(CachedExample)
  case stored(path: String)
}

/// Host memory the cached copies of one run may hold, shared by its caches (training and validation, every
/// dataset): a cache of 10,000 images x 4 copies (about 100 GB) trains on a 24 GB machine from its files instead
/// of swapping. Without a cache folder every copy is held, whatever the budget.
public final class PrefixMemoryBudget {
  public private(set) var remaining: Int
  public init(bytes: Int) { remaining = bytes }

  /// Takes `bytes` out of what remains, if they fit.
  public func take(_ bytes: Int) -> Bool {
    guard bytes <= remaining else { return false }
    remaining -= bytes
    return true
  }
}

/// The frozen, prompt-independent encoder prefix of every training image and augmentation copy, computed once
/// (batched, no grad) and kept in memory as float16 (docs/training-step.md). Copy 0 of each image is un-augmented.
/// With a `folder`, each copy is also stored as `<stem>_v<copy>.safetensors` under a key of everything it depends
/// on (base weights, adapted block, input transform), so later runs and ablations reuse it. The augmented copies'
/// key (`augmentedKey`) adds the augmentation and seed; copy 0's (`key`) has neither, so runs that differ only in
/// augmentation or seed share their plain copies and the validation images.
final class PrefixCache {
  private(set) var examples: [[CachedCopy]] = []  // [sample][variant]

  /// Bytes held in memory.
  var byteCount: Int {
    examples.joined().reduce(0) { total, copy in if case .held(let e) = copy { total + e.byteCount } else { total } }
  }

  /// Copies kept only in their files (over the memory budget).
  var storedCount: Int { examples.joined().filter { if case .stored = $0 { true } else { false } }.count }

  init(model: HSPSAM, dataset: SegmentationDataset, transform: SampleTransform, variants: Int, seed: UInt64,
       batchSize: Int, folder: URL?, key: String, augmentedKey: String, budget: PrefixMemoryBudget,
       share: (rank: Int, worldSize: Int)? = nil, freeBytes: (URL) -> Int? = { PrefixCache.freeBytes($0) },
       progress: (Int, Int) throws -> Void) throws {
    let plain = SampleTransform(size: transform.size, geometry: transform.geometry, normalization: transform.normalization)
    let total = dataset.samples.count * variants
    var done = 0
    var slots = [[CachedCopy?]](repeating: Array(repeating: nil, count: variants), count: dataset.samples.count)
    func store(_ key: String) -> URL? { folder?.appendingPathComponent(String(format: "%016llx", stableHash(key))) }
    let plainStore = store(key), augmentedStore = variants > 1 ? store(augmentedKey) : nil
    for store in [plainStore, augmentedStore].compactMap({ $0 }) {
      try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
    }
    func file(_ stem: String, _ variant: Int) -> String? {
      (variant == 0 ? plainStore : augmentedStore)?.appendingPathComponent("\(stem)_v\(variant).safetensors").path
    }
    // The copies this cache will write: once the first is written (its size known), the disk must hold the rest,
    // or the run stops now with what it needs, not hours later on a full disk.
    var toWrite = 0
    if folder != nil {
      for variant in 0..<variants {
        for (i, sample) in dataset.samples.enumerated() where share.map({ i % $0.worldSize == $0.rank }) ?? true {
          if let path = file(sample.stem, variant), !FileManager.default.fileExists(atPath: path) { toWrite += 1 }
        }
      }
    }
    var diskChecked = false
    func checkDisk(afterWriting path: String) throws {
      guard !diskChecked else { return }
      diskChecked = true
      let store = URL(fileURLWithPath: path).deletingLastPathComponent()
      let perCopy = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
      let needed = perCopy * (toWrite - 1)
      if let free = freeBytes(store), needed + Self.diskReserve > free {
        throw TrainingError.prefixCacheDiskFull(folder: store.path, copies: toWrite - 1, bytesPerCopy: perCopy, freeBytes: free)
      }
    }
    func keep(_ example: CachedExample, file: String?) -> CachedCopy {
      if let file, !budget.take(example.byteCount) { return .stored(path: file) }
      return .held(example)
    }
    for variant in 0..<variants {
      var missing: [Int] = []
      for (i, sample) in dataset.samples.enumerated() {
        if let share {  // one rank's share of the files: those missing are computed and written, nothing is kept
          if i % share.worldSize == share.rank, let path = file(sample.stem, variant),
             !FileManager.default.fileExists(atPath: path) { missing.append(i) }
          continue
        }
        if let path = file(sample.stem, variant), FileManager.default.fileExists(atPath: path),
           let example = try? Self.read(path) {
          slots[i][variant] = keep(example, file: path)
          done += 1
        } else {
          missing.append(i)
        }
      }
      try progress(done, total)
      guard !missing.isEmpty else { continue }
      let loader = DataLoader(dataset: dataset.subset(missing.map { dataset.samples[$0] }),
                              transform: variant == 0 ? plain : transform, batchSize: batchSize, shuffle: false,
                              seed: seed &+ UInt64(variant) &* 7919)
      loader.epoch = variant
      var position = 0
      for result in loader {
        let batch = try result.get()
        let prefix = try model.encodePrefix(batch.images.to(model.device))
        for i in 0..<batch.samples.count {
          // Kept in host memory as float16 whatever the model's device; the encoder's output is float32, so the
          // conversion copies the one example out of the batch (no clone needed).
          func stored(_ x: Tensor) throws -> Tensor { try x.select(dim: 0, index: i).to(.float16, .cpu) }
          let features = try prefix.features.mapValues(stored)
          let example = CachedExample(tokens: try stored(prefix.tokens),
                                      features: features, mask: try batch.masks[i].to(.uint8))
          let path = file(batch.samples[i].stem, variant)
          if let path {
            try Self.write(example, to: path)
            try checkDisk(afterWriting: path)
          }
          if share == nil { slots[missing[position]][variant] = keep(example, file: path) }
          position += 1
        }
        done += batch.samples.count
        try progress(done, total)
      }
    }
    examples = share == nil ? slots.map { $0.map { $0! } } : []
  }

  /// Space left free beside the cache's files: the run's own checkpoints and the system need some.
  static let diskReserve = 1 << 30

  /// Bytes free to this user on the file system holding `folder` (nil: unknown; the check is then skipped).
  static func freeBytes(_ folder: URL) -> Int? {
    (try? FileManager.default.attributesOfFileSystem(forPath: folder.path)[.systemFreeSize] as? NSNumber)?.intValue
  }

  /// Several datasets' caches as one pool (indices run through them in order).
  init(concatenating caches: [PrefixCache]) {
    examples = caches.flatMap(\.examples)
  }

  static func write(_ example: CachedExample, to path: String) throws {
    var tensors: [(name: String, tensor: Tensor)] = [("tokens", example.tokens), ("mask", example.mask)]
    tensors += example.features.sorted { $0.key < $1.key }.map { ("feature.\($0.key)", $0.value) }
    try Safetensors.write(tensors, to: path)
  }

  static func read(_ path: String) throws -> CachedExample {
    let tensors = Dictionary(uniqueKeysWithValues: try Safetensors.read(path: path).tensors.map { ($0.name, $0.tensor) })
    guard let tokens = tensors["tokens"], let mask = tensors["mask"] else { throw TrainingError.incompleteCacheEntry(path) }
    var features: [Int: Tensor] = [:]
    for (name, tensor) in tensors where name.hasPrefix("feature.") { features[Int(name.dropFirst(8)) ?? -1] = tensor }
    return CachedExample(tokens: tokens, features: features, mask: mask)
  }

  /// A batch of examples (one variant per sample) as float32 prefixes and int64 masks on `device`.
  func batch(_ picks: [(sample: Int, variant: Int)], on device: Device = .cpu) throws -> (prefix: EncoderPrefix, masks: Tensor) {
    let chosen = try picks.map { pick -> CachedExample in
      switch examples[pick.sample][pick.variant] {
      case .held(let example): return example
      case .stored(let path): return try Self.read(path)
      }
    }
    // Moved as float16 (half the bytes to a GPU), widened to float32 where the model runs.
    let tokens = try Tensor.stack(chosen.map(\.tokens)).to(device).to(.float32)
    var features: [Int: Tensor] = [:]
    for key in chosen[0].features.keys { features[key] = try Tensor.stack(chosen.map { $0.features[key]! }).to(device).to(.float32) }
    return (EncoderPrefix(tokens: tokens, features: features), try Tensor.stack(chosen.map(\.mask)).to(device).to(.int64))
  }
}
