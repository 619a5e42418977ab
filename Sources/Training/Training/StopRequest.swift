import Foundation

/// The signal that asked a long job to stop (SIGINT: Ctrl-C; SIGTERM: `kill`, `timeout`, a batch scheduler's
/// pre-emption), 0 while none has.
nonisolated(unsafe) var stopSignal: Int32 = 0

/// Records the first stop signal; a second one quits at once (a training step, a validation or one image can take
/// minutes, and a user pressing Ctrl-C twice means it). Only async-signal-safe work here: a store and `_exit`.
private func requestStop(_ signal: Int32) {
  if stopSignal != 0 { _exit(128 + signal) }
  stopSignal = signal
}

/// SIGINT and SIGTERM as a request to stop at the next safe point (training: after the step under way, with `last`
/// saved; evaluation: after the image under way, with the images done reported) instead of killing the process.
public struct StopRequest {
  private let previousHandlers: [(Int32, sig_t?)]

  /// Clears any earlier request and installs the handlers; `restore()` puts the previous ones back.
  public init() {
    stopSignal = 0
    previousHandlers = [SIGINT, SIGTERM].map { ($0, signal($0, requestStop)) }
  }

  public func restore() {
    for (number, handler) in previousHandlers { signal(number, handler) }
  }

  /// The signal's name ("SIGINT", "SIGTERM") once one has asked to stop; nil while none has.
  public static var received: String? {
    switch stopSignal {
    case 0: return nil
    case SIGTERM: return "SIGTERM"
    default: return "SIGINT"
    }
  }
}
