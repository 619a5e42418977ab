import Foundation

/// Throughput and time left for a progress line, measured over the recent past: the last `window` updates rather
/// than everything since the start, so that a pause (a laptop asleep, another job on the cores) stops weighing on
/// the estimate once it is `window` updates old. A rate since the start never recovers: after one 45-minute pause
/// a 2-hour training run kept showing 0.06 images/s and an ETA of 13 hours.
public struct ProgressMeter {
  /// Items in all (images, samples).
  public let total: Int
  /// How many of the latest updates the rate is measured over.
  public let window: Int
  /// (time, items done) at the start and at each update, the oldest first; at most `window + 1` kept.
  private var marks: [(time: Date, done: Int)]

  public init(total: Int, done: Int = 0, window: Int = 20, start: Date = Date()) {
    precondition(window >= 1, "ProgressMeter needs a window of at least one update")
    self.total = total
    self.window = window
    marks = [(start, done)]
  }

  /// Records that `done` items are finished at `time`.
  public mutating func update(done: Int, at time: Date = Date()) {
    marks.append((time, done))
    if marks.count > window + 1 { marks.removeFirst(marks.count - window - 1) }
  }

  /// Items done so far.
  public var done: Int { marks.last!.done }

  /// Items per second over the window; nil before the first update or when no time has passed.
  public var itemsPerSecond: Double? {
    guard let first = marks.first, let last = marks.last else { return nil }
    let seconds = last.time.timeIntervalSince(first.time)
    guard seconds > 0, last.done > first.done else { return nil }
    return Double(last.done - first.done) / seconds
  }

  /// Seconds until `total` at the window's rate; nil while there is no rate.
  public var secondsLeft: Double? { itemsPerSecond.map { Double(Swift.max(0, total - done)) / $0 } }

  /// "12/100, 1.52 s per image, ETA 02:14" (the `unit` names one item); the rate and ETA once there is a rate.
  public func line(unit: String = "image") -> String {
    guard let rate = itemsPerSecond, let left = secondsLeft else { return "\(done)/\(total)" }
    let pace = rate >= 1 ? String(format: "%.2f \(unit)s/s", rate) : String(format: "%.2f s per \(unit)", 1 / rate)
    return "\(done)/\(total), \(pace), ETA \(formatDuration(left))"
  }
}

/// `mm:ss`, or `h:mm:ss` from an hour; `--:--` when not finite.
public func formatDuration(_ seconds: Double) -> String {
  guard seconds.isFinite else { return "--:--" }
  let s = Int(seconds)
  return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s % 3600 / 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
}
