import CImageCodecs
import Foundation
import Tensor

/// A file that could not be read or written as an image; the message names the file.
public typealias ImageIOError = FileError

/// Image files through libjpeg-turbo, libpng and libtiff. The format is recognised from the file's first bytes,
/// not its extension.
public enum ImageIO {
  public enum Format: String, Sendable { case jpeg, png, tiff }

  public static func format(ofHeader bytes: [UInt8]) -> Format? {
    if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if bytes.starts(with: [0x49, 0x49, 0x2A, 0x00]) || bytes.starts(with: [0x4D, 0x4D, 0x00, 0x2A])
      || bytes.starts(with: [0x49, 0x49, 0x2B, 0x00]) || bytes.starts(with: [0x4D, 0x4D, 0x00, 0x2B]) {
      return .tiff
    }
    return nil
  }

  /// The most pixels (width x height) an image may have to be decoded: the model sees 256 pixels a side, but an
  /// image is held whole while it is read, resized and its mask written back at full size, so a 20000 x 20000 PNG
  /// of 1 MB would take ~13 GB. Past the limit `read` refuses from the header, before decoding. 50 megapixels
  /// (e.g. 8660 x 5773) keeps a prediction's peak memory near 2 GB (docs/usage.md); commands raise it with
  /// `--max-pixels`. Set once at start, before images are read on other threads.
  nonisolated(unsafe) public static var pixelLimit = 50_000_000

  /// Decodes an image file (refused from its header when it has more than `pixelLimit` pixels).
  public static func read(_ path: String) throws -> Image { try read(path, reducedBy: 1) }

  /// Decodes an image file with each side divided by `factor` (rounded up; factor x factor blocks averaged), as its
  /// rows stream from the decoder: only the reduced image is held (JPEG's powers of two are libjpeg's scaled
  /// decoding). 16-bit or interlaced PNGs and TIFFs with separate planes cannot stream and are decoded whole first.
  /// The file is refused from its header when its full size has more than `pixelLimit` pixels.
  public static func read(_ path: String, reducedBy factor: Int) throws -> Image {
    var image = ic_image()
    var header: (width: Int32, height: Int32) = (0, 0)
    let factor = Int32(Swift.max(1, factor))
    var streamed = true
    // One read of the file: the header's size is checked against the limit on the bytes already read, and only
    // then is the image decoded.
    try call(path) { format, data, message in
      let sized = headerSize(format, path, data, &header.width, &header.height, message)
      guard sized == 0, Int(header.width) * Int(header.height) <= pixelLimit else { return sized }
      let decode = { (factor: Int32) -> Int32 in
        switch format {
        case .tiff: return ic_decode_tiff(path, factor, &image, message, messageSize)
        case .jpeg: return ic_decode_jpeg(data.baseAddress, data.count, factor, &image, message, messageSize)
        case .png: return ic_decode_png(data.baseAddress, data.count, factor, &image, message, messageSize)
        }
      }
      let status = decode(factor)
      guard status == Int32(IC_CANNOT_STREAM) else { return status }
      streamed = false
      return decode(1)
    }
    defer { ic_free(&image) }
    try checkPixelLimit(path, width: Int(header.width), height: Int(header.height))
    if !streamed {
      var reduced = ic_image()
      var message = [CChar](repeating: 0, count: messageSize)
      guard ic_reduce(&image, factor, &reduced, &message, messageSize) == 0 else {
        throw ImageIOError(path: path, reason: cString(message))
      }
      ic_free(&image)
      image = reduced
    }
    let count = Int(image.width) * Int(image.height) * Int(image.channels)
    let samples: [UInt16]
    if image.bits == 16 {
      samples = image.pixels.withMemoryRebound(to: UInt16.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
    } else {
      samples = Array(UnsafeBufferPointer(start: image.pixels, count: count)).map(UInt16.init)
    }
    return Image(width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
                 bitDepth: Int(image.bits), samples: samples)
  }

  /// The smallest factor that brings a width x height image to at most `pixels` pixels (1 when it already fits).
  public static func reductionFactor(width: Int, height: Int, toAtMost pixels: Int) -> Int {
    var factor = 1
    while ((width + factor - 1) / factor) * ((height + factor - 1) / factor) > pixels { factor += 1 }
    return factor
  }

  /// Refuses an image of more than `pixelLimit` pixels, naming the file, its size and the limit.
  public static func checkPixelLimit(_ path: String, width: Int, height: Int) throws {
    guard width * height > pixelLimit else { return }
    func grouped(_ n: Int) -> String {  // 400000000 -> 400,000,000
      let digits = Array(String(n))
      return String(digits.enumerated().flatMap { i, d in (i > 0 && (digits.count - i) % 3 == 0) ? [",", d] : [d] })
    }
    throw ImageIOError(path: path, reason: "\(width)x\(height) = \(grouped(width * height)) pixels, over the limit of " +
                       "\(grouped(pixelLimit)) (--max-pixels raises it)")
  }

  /// Width and height from the file's header, nothing decoded: checks a whole dataset in seconds before a long run
  /// (a truncated file passes; `read` finds that).
  public static func size(of path: String) throws -> (width: Int, height: Int) {
    var width: Int32 = 0, height: Int32 = 0
    try call(path) { format, data, message in headerSize(format, path, data, &width, &height, message) }
    return (Int(width), Int(height))
  }

  /// The header's width and height through the format's codec (TIFF reads the path, the others the bytes).
  private static func headerSize(_ format: Format, _ path: String, _ data: UnsafeBufferPointer<UInt8>, _ width: inout Int32,
                                 _ height: inout Int32, _ message: UnsafeMutablePointer<CChar>) -> Int32 {
    switch format {
    case .tiff: return ic_size_tiff(path, &width, &height, message, messageSize)
    case .jpeg: return ic_size_jpeg(data.baseAddress, data.count, &width, &height, message, messageSize)
    case .png: return ic_size_png(data.baseAddress, data.count, &width, &height, message, messageSize)
    }
  }

  private static let messageSize = 512  // bytes for a codec's error message

  /// Opens `path`, recognises its format and runs `codec` on it (JPEG and PNG get the file's bytes, TIFF reads the
  /// path itself); a failure is an ImageIOError naming the file.
  private static func call(_ path: String,
                           _ codec: (Format, UnsafeBufferPointer<UInt8>, UnsafeMutablePointer<CChar>) -> Int32) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw ImageIOError(path: path, reason: "no such file")
    }
    if isDirectory.boolValue { throw ImageIOError(path: path, reason: "is a folder") }
    guard let handle = FileHandle(forReadingAtPath: path) else { throw ImageIOError(path: path, reason: "cannot be opened") }
    defer { try? handle.close() }
    let header = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
    guard let format = format(ofHeader: header) else {
      throw ImageIOError(path: path, reason: header.isEmpty ? "empty file" : "not a JPEG, PNG or TIFF image")
    }
    var data: [UInt8] = []
    if format != .tiff {
      try handle.seek(toOffset: 0)
      data = [UInt8]((try? handle.readToEnd()) ?? Data())
    }
    var message = [CChar](repeating: 0, count: messageSize)
    let status = data.withUnsafeBufferPointer { bytes in message.withUnsafeMutableBufferPointer { codec(format, bytes, $0.baseAddress!) } }
    guard status == 0 else {
      throw ImageIOError(path: path, reason: cString(message).trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  /// Writes 8-bit pixels (H x W x channels, channels 1-4) as PNG, atomically (temporary file + rename).
  public static func writePNG(_ bytes: [UInt8], width: Int, height: Int, channels: Int, to path: String) throws {
    guard bytes.count == width * height * channels else {
      throw ImageIOError(path: path, reason: "pixel count \(bytes.count) does not match \(width)x\(height)x\(channels)")
    }
    let url = URL(fileURLWithPath: path)
    let temporary = TemporaryFiles.sibling(of: url)
    var message = [CChar](repeating: 0, count: messageSize)
    let status = ic_encode_png(temporary.path, bytes, Int32(width), Int32(height), Int32(channels), &message, message.count)
    guard status == 0 else {
      try? FileManager.default.removeItem(at: temporary)
      throw ImageIOError(path: path, reason: cString(message))
    }
    guard rename(temporary.path, url.path) == 0 else {
      try? FileManager.default.removeItem(at: temporary)
      throw ImageIOError(path: path, reason: "rename failed (errno \(errno))")
    }
  }

  public static func writePNG(_ image: Image, to path: String) throws {
    try writePNG(image.samples.map { UInt8(truncatingIfNeeded: image.bitDepth == 16 ? $0 >> 8 : $0) },
                 width: image.width, height: image.height, channels: image.channels, to: path)
  }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
  String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
