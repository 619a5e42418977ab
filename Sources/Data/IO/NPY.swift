import Foundation
import Tensor

/// NumPy `.npy` files (format 1.0), little-endian float32, C order.
public enum NPY {
  /// Writes `values` with `shape` atomically.
  public static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
    guard values.count == shape.reduce(1, *) else {
      throw ImageIOError(path: path, reason: "\(values.count) values do not fill shape \(shape)")
    }
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    // magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: Array(header.utf8))
    values.withUnsafeBytes { data.append(contentsOf: $0) }
    try writeAtomically(data, to: path)
  }

  /// Reads a float32 little-endian C-order `.npy` file.
  public static func readFloat32(_ path: String) throws -> (values: [Float], shape: [Int]) {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else {
      throw ImageIOError(path: path, reason: "not a .npy file")
    }
    let major = data[6]
    let lengthBytes = major == 1 ? 2 : 4
    let headerLength = data[8..<(8 + lengthBytes)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let start = 8 + lengthBytes
    guard data.count >= start + headerLength else { throw ImageIOError(path: path, reason: "truncated header") }
    let header = String(decoding: data[start..<(start + headerLength)], as: UTF8.self)
    guard header.contains("'<f4'"), header.contains("'fortran_order': False"),
          let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
    else { throw ImageIOError(path: path, reason: "only little-endian float32 C-order arrays are supported") }
    let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let count = shape.reduce(1, *)
    let body = data[(start + headerLength)...]
    guard body.count == count * 4 else { throw ImageIOError(path: path, reason: "data size does not match shape \(shape)") }
    let values = body.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    return (values, shape)
  }
}
