import Data
import Foundation
import Models
import Tensor

/// One cached training example: the frozen encoder prefix of an (augmented) image, its mask, in float16.
struct CachedExample {
  let tokens: Tensor
  let features: [Int: Tensor]
  let mask: Tensor
}

/// The frozen, prompt-independent encoder prefix of every training image and augmentation copy, computed once
/// (batched, no grad) and kept in memory as float16 (note 3.14). Copy 0 of each image is un-augmented.
/// With a `folder`, each copy is also stored as `<stem>_v<copy>.safetensors` under a key of everything it depends
/// on (base weights, adapted block, input transform), so later runs and ablations reuse it. The augmented copies'
/// key (`augmentedKey`) adds the augmentation and seed; copy 0's (`key`) has neither, so runs that differ only in
/// augmentation or seed share their plain copies and the validation images.
final class PrefixCache {
  private(set) var examples: [[CachedExample]] = []  // [sample][variant]

  /// Bytes held.
  var byteCount: Int {
    examples.joined().reduce(0) { total, e in
      total + e.tokens.count * 2 + e.features.values.reduce(0) { $0 + $1.count * 2 } + e.mask.count
    }
  }

  init(model: HSPSAM, dataset: SegmentationDataset, transform: SampleTransform, variants: Int, seed: UInt64,
       batchSize: Int, folder: URL?, key: String, augmentedKey: String, progress: (Int, Int) -> Void) throws {
    let plain = SampleTransform(size: transform.size, geometry: transform.geometry, normalization: transform.normalization)
    let total = dataset.samples.count * variants
    var done = 0
    var slots = [[CachedExample?]](repeating: Array(repeating: nil, count: variants), count: dataset.samples.count)
    func store(_ key: String) -> URL? { folder?.appendingPathComponent(String(format: "%016llx", stableHash(key))) }
    let plainStore = store(key), augmentedStore = variants > 1 ? store(augmentedKey) : nil
    for store in [plainStore, augmentedStore].compactMap({ $0 }) {
      try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
    }
    func file(_ stem: String, _ variant: Int) -> String? {
      (variant == 0 ? plainStore : augmentedStore)?.appendingPathComponent("\(stem)_v\(variant).safetensors").path
    }
    for variant in 0..<variants {
      var missing: [Int] = []
      for (i, sample) in dataset.samples.enumerated() {
        if let path = file(sample.stem, variant), FileManager.default.fileExists(atPath: path),
           let example = try? Self.read(path) {
          slots[i][variant] = example
          done += 1
        } else {
          missing.append(i)
        }
      }
      progress(done, total)
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
          if let path = file(batch.samples[i].stem, variant) { try Self.write(example, to: path) }
          slots[missing[position]][variant] = example
          position += 1
        }
        done += batch.samples.count
        progress(done, total)
      }
    }
    examples = slots.map { $0.map { $0! } }
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
    guard let tokens = tensors["tokens"], let mask = tensors["mask"] else { throw TrainingError("\(path): incomplete cache entry") }
    var features: [Int: Tensor] = [:]
    for (name, tensor) in tensors where name.hasPrefix("feature.") { features[Int(name.dropFirst(8)) ?? -1] = tensor }
    return CachedExample(tokens: tokens, features: features, mask: mask)
  }

  /// A batch of examples (one variant per sample) as float32 prefixes and int64 masks on `device`.
  func batch(_ picks: [(sample: Int, variant: Int)], on device: Device = .cpu) throws -> (prefix: EncoderPrefix, masks: Tensor) {
    let chosen = picks.map { examples[$0.sample][$0.variant] }
    // Moved as float16 (half the bytes to a GPU), widened to float32 where the model runs.
    let tokens = try Tensor.stack(chosen.map(\.tokens)).to(device).to(.float32)
    var features: [Int: Tensor] = [:]
    for key in chosen[0].features.keys { features[key] = try Tensor.stack(chosen.map { $0.features[key]! }).to(device).to(.float32) }
    return (EncoderPrefix(tokens: tokens, features: features), try Tensor.stack(chosen.map(\.mask)).to(device).to(.int64))
  }
}
