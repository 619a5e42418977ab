import Foundation

/// Slots written from concurrent workers (each index by one worker), read after they finish.
final class ConcurrentSlots<T>: @unchecked Sendable {
  private var slots: [T?]
  private let lock = NSLock()
  init(count: Int) { slots = Array(repeating: nil, count: count) }
  subscript(index: Int) -> T? {
    get { lock.lock(); defer { lock.unlock() }; return slots[index] }
    set { lock.lock(); slots[index] = newValue; lock.unlock() }
  }
  var values: [T?] { lock.lock(); defer { lock.unlock() }; return slots }
}
