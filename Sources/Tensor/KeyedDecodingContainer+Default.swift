// Here, in the module every configuration type depends on, so the model's, the training run's and the data
// augmentation's configurations all read missing keys the same way.
extension KeyedDecodingContainer {
  /// The value under `key`, or `fallback` when the key is absent (configurations saved before a key existed).
  public func decode<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
    try decodeIfPresent(T.self, forKey: key) ?? fallback
  }
}

/// A closed set of configuration values spelled as strings in JSON (`"promptBlocks": "last-of-stage"`). Decoding
/// an unknown spelling names the ones allowed: `must be last-of-stage or all-of-stage, got every`.
public protocol ConfigChoice: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension ConfigChoice {
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let value = Self(rawValue: text) else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be \(Self.choices), got \(text)")
    }
    self = value
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }

  /// "a, b or c".
  public static var choices: String {
    let names = allCases.map(\.rawValue)
    return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
  }
}
