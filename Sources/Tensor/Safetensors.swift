import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the raw little-endian data.
public enum Safetensors {
  /// Reads every tensor (copied out of the file) and the string metadata. A path ending in `.xz` is an .xz
  /// compressed safetensors file (`XZ`), decompressed in memory.
  public static func read(path: String) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
    var data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
      throw CheckpointError(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
    }
    if isCompressed(path) { data = try XZ.decode(data, source: path) }
    return try parse(data, source: path)
  }

  /// Whether `path` names an .xz compressed safetensors file (`.safetensors.xz`).
  public static func isCompressed(_ path: String) -> Bool { path.hasSuffix(".xz") }

  /// Whether `path` names a safetensors file, plain or .xz compressed.
  public static func isSafetensorsPath(_ path: String) -> Bool {
    path.hasSuffix(".safetensors") || path.hasSuffix(".safetensors.xz")
  }

  /// Parses a safetensors file's bytes (`source` names it in errors). Every size in the header is checked, with
  /// overflow-checked arithmetic, against the data before anything is allocated for it.
  public static func parse(_ data: Data, source path: String) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
    func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
    guard data.count >= 8 else { throw fail("too short for a safetensors file (\(data.count) bytes)") }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
      throw fail("header length \(headerLength) exceeds the file (truncated or not safetensors)")
    }
    let body = 8 + Int(headerLength)
    guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<body)) as? [String: Any] else {
      throw fail("header is not a JSON object")
    }
    var metadata: [String: String] = [:]
    var entries: [(name: String, begin: Int, end: Int, dtype: DType, shape: [Int])] = []
    for (name, value) in header {
      if name == "__metadata__" {
        metadata = (value as? [String: String]) ?? [:]
        continue
      }
      guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
            let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
      else { throw fail("malformed header entry for \(name)") }
      guard let dtype = DType(safetensorsName: dtypeName) else { throw fail("\(name) has unsupported dtype \(dtypeName)") }
      let (begin, end) = (offsets[0], offsets[1])
      // A product or sum that overflows is a size no file holds: refused, not trapped on.
      let expected = shape.reduce(Optional(dtype.byteSize)) { total, d in
        guard let total, d >= 0 else { return nil }
        let (product, overflow) = total.multipliedReportingOverflow(by: d)
        return overflow ? nil : product
      }
      guard let expected, begin >= 0, end >= begin, end - begin == expected else {
        throw fail("\(name): data offsets [\(begin), \(end)] do not match shape \(shape) \(dtypeName)")
      }
      guard end <= data.count - body else { throw fail("\(name) extends past the end of the file (truncated?)") }
      entries.append((name, begin, end, dtype, shape))
    }
    entries.sort { $0.begin < $1.begin }
    let tensors = try data.withUnsafeBytes { raw in
      try entries.map { entry in
        let slice = UnsafeRawBufferPointer(rebasing: raw[(body + entry.begin)..<(body + entry.end)])
        return (entry.name, try Tensor.fromBytes(slice, dtype: entry.dtype, shape: entry.shape))
      }
    }
    return (tensors, metadata)
  }

  /// Writes tensors (in the given order) atomically: a temporary file in the same folder, renamed over `path`
  /// only when complete, so an interrupted write never damages an existing file.
  public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to path: String) throws {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var blobs: [[UInt8]] = []
    var offset = 0
    var seen = Set<String>()
    for (name, tensor) in tensors {
      guard seen.insert(name).inserted else { throw CheckpointError(path: path, reason: "duplicate tensor name \(name)") }
      let bytes = try tensor.bytes()
      header[name] = ["dtype": tensor.dtype.safetensorsName, "shape": tensor.shape, "data_offsets": [offset, offset + bytes.count]]
      offset += bytes.count
      blobs.append(bytes)
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    // Pad the header with spaces to 8 bytes so the data section is aligned (as the reference writer does).
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    for blob in blobs { out.append(contentsOf: blob) }
    try writeAtomically(isCompressed(path) ? XZ.encode(out, destination: path) : out, to: path)
  }
}

/// Writes `data` to a temporary sibling and renames it over `path` (atomic on one file system).
public func writeAtomically(_ data: Data, to path: String) throws {
  let url = URL(fileURLWithPath: path)
  let temporary = TemporaryFiles.sibling(of: url)
  do {
    try data.write(to: temporary)
    // rename(2) replaces the target atomically: readers see the old file or the new one, never a mix.
    guard rename(temporary.path, url.path) == 0 else {
      throw CheckpointError(path: path, reason: String(cString: strerror(errno)))
    }
  } catch {
    try? FileManager.default.removeItem(at: temporary)
    throw CheckpointError(path: path, reason: "could not be written (\(error.localizedDescription))")
  }
}
