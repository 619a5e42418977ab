import CXZ
import Foundation

/// Whole-file .xz (liblzma), for model files stored compressed: an 8-bit model compresses to about 3/4
/// (`models/`, where every version stays in the history a user clones).
public enum XZ {
  /// The most a compressed file may expand to: a quarter of the machine's memory, at most 8 GiB (SAM ViT-H, the
  /// largest checkpoint hspsam reads, is 2.6 GB; an exported HSP-SAM is tens of MB), so a small hostile file cannot
  /// make it allocate without bound.
  public static let largestDecodedSize = Int(min(ProcessInfo.processInfo.physicalMemory / 4, 8 << 30))

  /// The bytes `data` (the .xz file `source`) decompresses to, refused past `limit` bytes.
  public static func decode(_ data: Data, source: String, limit: Int = largestDecodedSize) throws -> Data {
    try run(data, file: source, failure: "cannot be decompressed") { hxz_decode($0, $1, limit, $2, $3, $4) }
  }

  /// `data` as one .xz stream.
  public static func encode(_ data: Data, destination: String) throws -> Data {
    try run(data, file: destination, failure: "cannot be compressed") { hxz_encode($0, $1, $2, $3, $4) }
  }

  /// Calls one of the C entry points (input, its size, then the output buffer, its size and the message) and
  /// hands its malloc'd output to `Data`, freed by liblzma's side; a failure names `file`.
  private static func run(
    _ data: Data, file: String, failure: String,
    _ call: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
             UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Int32
  ) throws -> Data {
    var out: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message: UnsafePointer<CChar>?
    let status = data.withUnsafeBytes { raw in call(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &out, &size, &message) }
    guard status == 0, let out else {
      throw CheckpointError(path: file, reason: message.map { String(cString: $0) } ?? failure)
    }
    return Data(bytesNoCopy: out, count: size, deallocator: .custom { pointer, _ in hxz_free(pointer) })
  }
}
