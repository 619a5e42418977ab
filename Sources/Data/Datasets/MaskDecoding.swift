/// Turns a decoded mask image into class indices (0 background) with a dataset's `MaskEncoding`.
extension MaskEncoding {
  public func classIndices(_ mask: Image, path: String) throws -> [UInt8] {
    switch self {
    case .threshold(let t):
      return mask.grey8().map { Int($0) > t ? 1 : 0 }
    case .labelValues(let labels):
      let lookup = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, UInt8($0)) })
      return try mask.firstChannel().map { value in
        guard let index = lookup[Int(value)] else {
          throw DatasetError(path: path, reason: "mask value \(value) is not one of the labels \(labels)")
        }
        return index
      }
    case .palette(let colours):
      let rgb = mask.rgb8()
      var lookup: [Int: UInt8] = [:]
      for (i, c) in colours.enumerated() where c.count == 3 { lookup[c[0] << 16 | c[1] << 8 | c[2]] = UInt8(i) }
      return try (0..<(mask.width * mask.height)).map { p in
        let key = Int(rgb[p * 3]) << 16 | Int(rgb[p * 3 + 1]) << 8 | Int(rgb[p * 3 + 2])
        guard let index = lookup[key] else {
          throw DatasetError(path: path, reason: "mask colour (\(rgb[p * 3]), \(rgb[p * 3 + 1]), \(rgb[p * 3 + 2])) is not in the palette")
        }
        return index
      }
    }
  }

  /// Number of classes including background.
  public var classCount: Int {
    switch self {
    case .threshold: return 2
    case .labelValues(let l): return l.count
    case .palette(let p): return p.count
    }
  }
}
