import Foundation
import Tensor

/// A seeded, time-bounded mutation fuzzer for our own parsers, run as XCTest cases: libFuzzer's mutations (bit
/// flips, interesting integers, insertions, deletions, duplication, splicing two seeds, truncation) over a committed
/// seed corpus (`scripts/fixtures/make_fuzz_corpus.py`). An input may throw (that is the parser refusing it); a
/// crash, a hang or memory beyond the bound fails. On a crash or hang the input under way is written to
/// `fuzz-crash-<target>.bin` in the current folder for a regression test.
///
/// `HSPSAM_FUZZ_SECONDS` sets each target's time (CI: the tests' defaults), `HSPSAM_FUZZ_SEED` its seed (default:
/// drawn and printed, so a failure can be replayed).
public enum Fuzzing {
  public struct Report: CustomStringConvertible {
    public let target: String
    public let executions: Int
    public let seconds: Double
    public let seed: UInt64
    public let peakResidentMegabytes: Double
    /// Resident memory when the target started: what earlier tests of the same process still hold (freed blocks
    /// kept by allocators included), which the target's bound must not count.
    public let startResidentMegabytes: Double
    /// How far above its start the target's peak went: its own memory.
    public var peakGrowthMegabytes: Double { peakResidentMegabytes - startResidentMegabytes }
    public var perSecond: Double { Double(executions) / Swift.max(seconds, 1e-9) }
    public var description: String {
      String(format: "fuzz %@: %d executions in %.1f s (%.0f/s), seed %llu, peak RSS %.0f MB (%.0f MB above its start)",
             target, executions, seconds, perSecond, seed, peakResidentMegabytes, peakGrowthMegabytes)
    }
  }

  /// Runs `body` on mutated corpus inputs for `seconds` (or `HSPSAM_FUZZ_SECONDS`); returns how it went.
  public static func run(_ target: String, corpus: [[UInt8]], seconds: Double, maxLength: Int = 1 << 16,
                         body: ([UInt8]) throws -> Void) -> Report {
    precondition(!corpus.isEmpty, "a fuzz target needs seeds")
    let environment = ProcessInfo.processInfo.environment
    let duration = environment["HSPSAM_FUZZ_SECONDS"].flatMap(Double.init) ?? seconds
    let seed = environment["HSPSAM_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
    var random = Xoshiro(seed: seed)
    CrashWitness.arm(target: target)
    defer { CrashWitness.disarm() }
    PeakMemory.reset()  // the bound is this target's: tests run before it in the same process may have peaked higher
    let startResident = PeakMemory.residentMegabytes()
    let start = Date()
    var executions = 0
    for seedInput in corpus {  // every seed as it is first
      CrashWitness.record(seedInput)
      try? body(seedInput)
      executions += 1
    }
    while Date().timeIntervalSince(start) < duration {
      var input = corpus[Int(random.next() % UInt64(corpus.count))]
      for _ in 0..<(1 + Int(random.next() % 4)) { mutate(&input, corpus: corpus, random: &random, maxLength: maxLength) }
      CrashWitness.record(input)
      try? body(input)
      executions += 1
    }
    return Report(target: target, executions: executions, seconds: Date().timeIntervalSince(start), seed: seed,
                  peakResidentMegabytes: PeakMemory.megabytes(), startResidentMegabytes: startResident)
  }

  static let interesting: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
                                      0xFFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max]

  static func mutate(_ input: inout [UInt8], corpus: [[UInt8]], random: inout Xoshiro, maxLength: Int) {
    func index(_ count: Int) -> Int { count == 0 ? 0 : Int(random.next() % UInt64(count)) }
    switch random.next() % 8 {
    case 0 where !input.isEmpty:  // flip a bit
      input[index(input.count)] ^= UInt8(1 << (random.next() % 8))
    case 1 where !input.isEmpty:  // a random byte
      input[index(input.count)] = UInt8(truncatingIfNeeded: random.next())
    case 2 where !input.isEmpty:  // an interesting integer, 1 to 8 bytes, either byte order
      let value = interesting[index(interesting.count)], width = [1, 2, 4, 8][index(4)]
      let at = index(input.count), bigEndian = random.next() % 2 == 0
      for k in 0..<width where at + k < input.count {
        let shift = UInt64(8 * (bigEndian ? width - 1 - k : k))
        input[at + k] = UInt8(truncatingIfNeeded: value >> shift)
      }
    case 3 where input.count < maxLength:  // insert random bytes
      let bytes = (0..<(1 + index(8))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      input.insert(contentsOf: bytes, at: index(input.count + 1))
    case 4 where input.count > 1:  // delete a range
      let at = index(input.count), length = 1 + index(Swift.min(16, input.count - at))
      input.removeSubrange(at..<Swift.min(input.count, at + length))
    case 5 where !input.isEmpty && input.count < maxLength:  // duplicate a range
      let at = index(input.count), length = 1 + index(Swift.min(32, input.count - at))
      input.insert(contentsOf: input[at..<Swift.min(input.count, at + length)], at: index(input.count + 1))
    case 6:  // splice: a prefix of this input, a suffix of another seed
      let other = corpus[index(corpus.count)]
      input = Array(input.prefix(index(input.count + 1))) + Array(other.suffix(index(other.count + 1)))
    default:  // truncate
      input = Array(input.prefix(index(input.count + 1)))
    }
    if input.count > maxLength { input.removeLast(input.count - maxLength) }
  }
}

/// xoshiro256**: fast and seedable, so a failing run is replayed with its printed seed.
struct Xoshiro {
  var s: (UInt64, UInt64, UInt64, UInt64)
  init(seed: UInt64) {
    var splitMix = SplitMix64(seed: seed)  // xoshiro's authors' advice for filling its state from one number
    s = (splitMix.next(), splitMix.next(), splitMix.next(), splitMix.next())
  }
  mutating func next() -> UInt64 {
    let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
    let t = s.1 << 17
    s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t
    s.3 = s.3 << 45 | s.3 >> 19
    return result
  }
}

/// Keeps the input under way where a signal handler can write it: a trap in Swift code (SIGILL / SIGTRAP), a
/// segfault, an abort, or a hang (a watchdog thread raises SIGABRT after 20 s on one input).
enum CrashWitness {
  nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 17)
  nonisolated(unsafe) static var length = 0
  nonisolated(unsafe) static var descriptor: Int32 = -1
  nonisolated(unsafe) static var started = Date()
  nonisolated(unsafe) static var armed = false

  nonisolated(unsafe) static var path = ""

  static func arm(target: String) {
    path = "fuzz-crash-\(target).bin"
    descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    armed = true
    for signal in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
      Foundation.signal(signal) { number in
        if CrashWitness.descriptor >= 0 { _ = write(CrashWitness.descriptor, CrashWitness.buffer, CrashWitness.length) }
        Foundation.signal(number, SIG_DFL)
        raise(number)
      }
    }
    Thread.detachNewThread {
      while CrashWitness.armed {
        Thread.sleep(forTimeInterval: 1)
        if CrashWitness.armed, Date().timeIntervalSince(CrashWitness.started) > 20 { raise(SIGABRT) }
      }
    }
  }

  static func record(_ input: [UInt8]) {
    length = Swift.min(input.count, 1 << 17)
    input.withUnsafeBufferPointer { if let base = $0.baseAddress, length > 0 { buffer.update(from: base, count: length) } }
    started = Date()
  }

  static func disarm() {
    armed = false
    for signal in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] { Foundation.signal(signal, SIG_DFL) }
    if descriptor >= 0 {  // no crash: the witness file is not needed
      close(descriptor)
      descriptor = -1
      unlink(path)
    }
  }
}

/// The process's peak resident memory since the last `reset`: Linux keeps it as VmHWM, which writing 5 to
/// /proc/self/clear_refs resets (getrusage's maxrss is a high-water mark since the start, which the other tests of
/// the one XCTest process set). Elsewhere, or where the kernel refuses, getrusage's.
enum PeakMemory {
  static func reset() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }

  static func megabytes() -> Double {
    if let kilobytes = status("VmHWM:") { return kilobytes / 1024 }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
  }

  /// Resident memory now (VmRSS; 0 where /proc is missing, so the growth is then the whole peak).
  static func residentMegabytes() -> Double { (status("VmRSS:") ?? 0) / 1024 }

  /// A /proc/self/status line's value in kB.
  static func status(_ key: String) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
    return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
  }
}
