import Foundation
import Tensor

/// A state dict that does not fit a model. Lists the first offending keys and how many there are.
public struct StateDictMismatch: Error, LocalizedError, Equatable {
  public var missingKeys: [String] = []
  public var unexpectedKeys: [String] = []
  public var shapeMismatches: [(key: String, expected: [Int], actual: [Int])] = []
  /// The file the state came from, when known.
  public var source: String?

  public init(source: String? = nil) { self.source = source }

  public var isEmpty: Bool { missingKeys.isEmpty && unexpectedKeys.isEmpty && shapeMismatches.isEmpty }

  public var errorDescription: String? {
    func list(_ keys: [String]) -> String {
      let shown = keys.prefix(3).joined(separator: ", ")
      return keys.count > 3 ? "\(shown) and \(keys.count - 3) more" : shown
    }
    var parts: [String] = []
    if let first = shapeMismatches.first {
      var text = "wrong shape for \(first.key): model \(first.expected), checkpoint \(first.actual)"
      if shapeMismatches.count > 1 { text += " (and \(shapeMismatches.count - 1) more)" }
      parts.append(text)
    }
    if !missingKeys.isEmpty { parts.append("\(missingKeys.count) missing keys (\(list(missingKeys)))") }
    if !unexpectedKeys.isEmpty { parts.append("\(unexpectedKeys.count) unexpected keys (\(list(unexpectedKeys)))") }
    var text = "checkpoint does not fit the model: " + parts.joined(separator: "; ")
    if let source { text = "\(source): " + text }
    if missingKeys.count > 0 && unexpectedKeys.count > 0 { text += " — is it a checkpoint for another model?" }
    return text
  }

  public static func == (a: StateDictMismatch, b: StateDictMismatch) -> Bool {
    a.missingKeys == b.missingKeys && a.unexpectedKeys == b.unexpectedKeys
      && a.shapeMismatches.map(\.key) == b.shapeMismatches.map(\.key)
  }
}

extension Module {
  /// Copies `state` into the model's parameters and persistent buffers (values converted to each tensor's dtype).
  ///
  /// - strict: every model key must be present, no extra key allowed, shapes equal; otherwise throws
  ///   `StateDictMismatch` naming the keys and nothing is changed.
  /// - non-strict: loads the keys that fit and returns what was skipped (shape mismatches still throw).
  @discardableResult
  public func load(stateDict state: [String: Tensor], strict: Bool = true, source: String? = nil) throws
    -> StateDictMismatch
  {
    let targets = stateDict()
    var report = StateDictMismatch(source: source)
    var targetKeys = Set<String>()
    for (name, tensor) in targets {
      targetKeys.insert(name)
      guard let value = state[name] else {
        report.missingKeys.append(name)
        continue
      }
      if value.shape != tensor.shape { report.shapeMismatches.append((name, tensor.shape, value.shape)) }
    }
    report.unexpectedKeys = state.keys.filter { !targetKeys.contains($0) }.sorted()
    if !report.shapeMismatches.isEmpty || (strict && !report.isEmpty) { throw report }
    try Torch.withNoGrad {
      for (name, tensor) in targets {
        if let value = state[name] { try tensor.copyFrom(value) }
      }
    }
    try notifyDidLoadState()
    return report
  }
}
