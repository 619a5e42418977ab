import Foundation
import Tensor

/// A batch of prepared samples.
public struct Batch {
  /// (B, 3, S, S) float32.
  public let images: Tensor
  /// (B, S, S) int64.
  public let masks: Tensor
  public let samples: [SegmentationSample]
  public let contentSizes: [(Int, Int)]
}

/// Reads, decodes and transforms samples on background threads, `prefetch` batches ahead of the consumer.
/// The order of epoch e is a SplitMix64(seed + e) shuffle; each sample's augmentation draws from its own generator
/// seeded by (seed, epoch, stem), so a run repeats exactly whatever the thread timing.
public final class DataLoader: Sequence, @unchecked Sendable {  // immutable but for `epoch` (consumer only)
  public let dataset: SegmentationDataset
  public let transform: SampleTransform
  public let batchSize: Int
  public let shuffle: Bool
  public let seed: UInt64
  public let prefetch: Int
  public let dropLast: Bool

  public init(dataset: SegmentationDataset, transform: SampleTransform, batchSize: Int, shuffle: Bool, seed: UInt64 = 0,
              prefetch: Int = 2, dropLast: Bool = false) {
    self.dataset = dataset
    self.transform = transform
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.seed = seed
    self.prefetch = Swift.max(1, prefetch)
    self.dropLast = dropLast
  }

  /// Which epoch `makeIterator()` produces next.
  public var epoch = 0

  public var batchCount: Int {
    dropLast ? dataset.samples.count / batchSize : (dataset.samples.count + batchSize - 1) / batchSize
  }

  /// Sample order of an epoch.
  public func order(epoch: Int) -> [Int] {
    var indices = Array(dataset.samples.indices)
    if shuffle {
      var generator = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
      indices.shuffle(using: &generator)
    }
    return indices
  }

  /// Loads one sample (decode + transform) with its deterministic generator.
  public func load(_ index: Int, epoch: Int) throws -> PreparedSample {
    let sample = dataset.samples[index]
    let (image, classes) = try dataset.read(sample)
    // Seeded by the sample's stem, not its position, so a subset of a dataset augments each image identically.
    var generator = SplitMix64(seed: seed ^ (UInt64(epoch) << 32) ^ stableHash(sample.stem) &* 0xD1B5_4A32_D192_ED03)
    return try transform.apply(rgb: image.rgb8(), classes: classes, height: image.height, width: image.width,
                               using: &generator)
  }

  public func makeIterator() -> Iterator {
    defer { epoch += 1 }
    return Iterator(loader: self, epoch: epoch)
  }

  /// Yields batches (or the first error, after which it stops).
  public final class Iterator: IteratorProtocol {
    let loader: DataLoader
    let epoch: Int
    let batches: [[Int]]
    let buffer: PrefetchBuffer<Result<Batch, Error>>
    var position = 0

    init(loader: DataLoader, epoch: Int) {
      self.loader = loader
      self.epoch = epoch
      let order = loader.order(epoch: epoch)
      var groups = stride(from: 0, to: order.count, by: loader.batchSize).map {
        Array(order[$0..<Swift.min($0 + loader.batchSize, order.count)])
      }
      if loader.dropLast, let last = groups.last, last.count < loader.batchSize { groups.removeLast() }
      batches = groups
      buffer = PrefetchBuffer(capacity: loader.prefetch)
      let buffer = self.buffer, batches = self.batches
      Thread.detachNewThread {
        for group in batches {
          if buffer.isCancelled { return }
          buffer.put(Result { try loader.makeBatch(group, epoch: epoch) })
        }
      }
    }

    deinit { buffer.cancel() }

    public func next() -> Result<Batch, Error>? {
      guard position < batches.count else { return nil }
      position += 1
      return buffer.take()
    }
  }

  /// Decodes a batch's samples in parallel and stacks them.
  func makeBatch(_ indices: [Int], epoch: Int) throws -> Batch {
    let slots = ConcurrentSlots<Result<PreparedSample, Error>>(count: indices.count)
    DispatchQueue.concurrentPerform(iterations: indices.count) { i in
      slots[i] = Result { try self.load(indices[i], epoch: epoch) }
    }
    let prepared = try slots.values.map { try $0!.get() }
    return Batch(images: try Tensor.stack(prepared.map(\.image)), masks: try Tensor.stack(prepared.map(\.mask)),
                 samples: indices.map { dataset.samples[$0] }, contentSizes: prepared.map(\.contentSize))
  }
}

/// A bounded FIFO between one producer and one consumer thread.
final class PrefetchBuffer<T>: @unchecked Sendable {
  private var items: [T] = []
  private let condition = NSCondition()
  private let capacity: Int
  private var cancelled = false

  init(capacity: Int) { self.capacity = capacity }

  var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }

  func put(_ item: T) {
    condition.lock()
    while items.count >= capacity && !cancelled { condition.wait() }
    if !cancelled { items.append(item) }
    condition.broadcast()
    condition.unlock()
  }

  func take() -> T {
    condition.lock()
    while items.isEmpty { condition.wait() }
    let item = items.removeFirst()
    condition.broadcast()
    condition.unlock()
    return item
  }

  func cancel() {
    condition.lock()
    cancelled = true
    condition.broadcast()
    condition.unlock()
  }
}

/// FNV-1a, 64 bits: a hash that stays the same across processes (Swift's `Hasher` is seeded per process).
public func stableHash(_ text: String) -> UInt64 {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
  return hash
}
