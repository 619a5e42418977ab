/// The text form of a `MaskEncoding`, as `--masks` takes it and as error messages and cache keys name it:
/// `threshold:N` (grey > N is foreground; N in 0...254), `labels:V0,V1,...` (grey value Vi is class i, V0 the
/// background; 2 to 17 distinct values in 0...255), `palette:RRGGBB,...` (hex colour i is class i).
extension MaskEncoding {
  public struct RuleError: Error, CustomStringConvertible {
    public let description: String
  }

  /// The default rule: binary masks, foreground where grey > 127 (JPEG noise around 0 and 255 falls on its side).
  public static let binary = MaskEncoding.threshold(127)

  public init(rule: String) throws {
    let parts = rule.split(separator: ":", maxSplits: 1).map(String.init)
    func fail(_ why: String) -> RuleError {
      RuleError(description: "mask rule '\(rule)': \(why) (expected threshold:N, labels:V0,V1,... or palette:RRGGBB,...)")
    }
    guard parts.count == 2, !parts[1].isEmpty else { throw fail("no values") }
    let values = parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    switch parts[0] {
    case "threshold":
      guard values.count == 1, let t = Int(values[0]), (0...254).contains(t) else { throw fail("N must be one integer in 0...254") }
      self = .threshold(t)
    case "labels":
      let labels = try values.map { text -> Int in
        guard let v = Int(text), (0...255).contains(v) else { throw fail("'\(text)' is not a grey value in 0...255") }
        return v
      }
      try Self.checkClassList(labels.count, distinct: Set(labels).count, fail: fail)
      self = .labelValues(labels)
    case "palette":
      let colours = try values.map { text -> [Int] in
        guard text.count == 6, let v = Int(text, radix: 16) else { throw fail("'\(text)' is not a colour RRGGBB in hex") }
        return [v >> 16, (v >> 8) & 255, v & 255]
      }
      try Self.checkClassList(colours.count, distinct: Set(colours).count, fail: fail)
      self = .palette(colours)
    default:
      throw fail("unknown kind '\(parts[0])'")
    }
  }

  /// Background plus 1...16 classes (HSP-SAM's `numClasses` range), no value twice.
  private static func checkClassList(_ count: Int, distinct: Int, fail: (String) -> RuleError) throws {
    guard (2...17).contains(count) else { throw fail("give the background and 1 to 16 classes, got \(count) values") }
    guard distinct == count else { throw fail("a value is listed twice") }
  }

  /// The rule as `init(rule:)` reads it.
  public var rule: String {
    switch self {
    case .threshold(let t): return "threshold:\(t)"
    case .labelValues(let labels): return "labels:" + labels.map(String.init).joined(separator: ",")
    case .palette(let colours):
      func byte(_ v: Int) -> String { let h = String(v & 255, radix: 16); return h.count == 1 ? "0" + h : h }
      return "palette:" + colours.map { $0.map(byte).joined() }.joined(separator: ",")
    }
  }
}
