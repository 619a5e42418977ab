/// The size (h, w) of an (H, W) image resized so that its longer side is `size`: each side scaled by
/// size / max(H, W) and rounded half up, as SAM's `ResizeLongestSide` and LiteMedSAM's inference script round
/// (`int(x + 0.5)`). A side is never less than 1 pixel: the references would ask for a 0-pixel resize of an image
/// hundreds of times wider than tall (a 1000 x 1 strip) and fail.
public func longestSideResize(_ original: (Int, Int), to size: Int) -> (Int, Int) {
  let scale = Double(size) / Double(max(original.0, original.1))
  return (max(1, Int(Double(original.0) * scale + 0.5)), max(1, Int(Double(original.1) * scale + 0.5)))
}
