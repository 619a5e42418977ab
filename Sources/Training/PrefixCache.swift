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
final class PrefixCache {
  private(set) var examples: [[CachedExample]] = []  // [sample][variant]

  /// Bytes held.
  var byteCount: Int {
    examples.joined().reduce(0) { total, e in
      total + e.tokens.count * 2 + e.features.values.reduce(0) { $0 + $1.count * 2 } + e.mask.count
    }
  }

  init(model: HSPSAM, dataset: SegmentationDataset, transform: SampleTransform, variants: Int, seed: UInt64,
       batchSize: Int, progress: (Int, Int) -> Void) throws {
    let plain = SampleTransform(size: transform.size, geometry: transform.geometry, normalization: transform.normalization)
    let total = dataset.samples.count * variants
    var done = 0
    examples = Array(repeating: [], count: dataset.samples.count)
    for variant in 0..<variants {
      let loader = DataLoader(dataset: dataset, transform: variant == 0 ? plain : transform, batchSize: batchSize,
                              shuffle: false, seed: seed &+ UInt64(variant) &* 7919)
      loader.epoch = variant
      var index = 0
      for result in loader {
        let batch = try result.get()
        let prefix = try model.encodePrefix(batch.images)
        for i in 0..<batch.samples.count {
          let features = try prefix.features.mapValues { try $0.select(dim: 0, index: i).to(.float16).clone() }
          examples[index].append(CachedExample(tokens: try prefix.tokens.select(dim: 0, index: i).to(.float16).clone(),
                                               features: features, mask: try batch.masks[i].to(.uint8)))
          index += 1
        }
        done += batch.samples.count
        progress(done, total)
      }
    }
  }

  /// A batch of examples (one variant per sample) as float32 prefixes and int64 masks.
  func batch(_ picks: [(sample: Int, variant: Int)]) throws -> (prefix: EncoderPrefix, masks: Tensor) {
    let chosen = picks.map { examples[$0.sample][$0.variant] }
    let tokens = try Tensor.stack(chosen.map(\.tokens)).to(.float32)
    var features: [Int: Tensor] = [:]
    for key in chosen[0].features.keys { features[key] = try Tensor.stack(chosen.map { $0.features[key]! }).to(.float32) }
    return (EncoderPrefix(tokens: tokens, features: features), try Tensor.stack(chosen.map(\.mask)).to(.int64))
  }
}
