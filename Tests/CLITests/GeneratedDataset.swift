import Data
import Foundation

/// A tiny dataset of 40x30 PNGs: a red bar on grey, shifted one pixel per image, with its 0/255 mask.
/// Files are `<prefix><i><suffix>.png` in `folder/images` and `folder/masks`.
func writeGeneratedDataset(at folder: URL, count: Int, prefix: String, suffix: String = "") throws {
  for sub in ["images", "masks"] {
    try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
  }
  for i in 0..<count {
    var rgb = [UInt8](repeating: 30, count: 40 * 30 * 3), mask = [UInt8](repeating: 0, count: 40 * 30)
    for y in 8..<20 { for x in (5 + i)..<(25 + i) { mask[y * 40 + x] = 255; rgb[(y * 40 + x) * 3] = 230 } }
    let name = "\(prefix)\(i)\(suffix).png"
    try ImageIO.writePNG(rgb, width: 40, height: 30, channels: 3, to: folder.appendingPathComponent("images/\(name)").path)
    try ImageIO.writePNG(mask, width: 40, height: 30, channels: 1, to: folder.appendingPathComponent("masks/\(name)").path)
  }
}
