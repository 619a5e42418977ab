// Here, in the module every configuration type depends on, so the model's, the training run's and the data
// augmentation's configurations all read missing keys the same way.
extension KeyedDecodingContainer {
  /// The value under `key`, or `fallback` when the key is absent (configurations saved before a key existed).
  public func decode<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
    try decodeIfPresent(T.self, forKey: key) ?? fallback
  }
}
