/// SAM's input normalisation: the ImageNet mean and standard deviation per channel, on 0...255 intensities
/// (segment_anything's `pixel_mean` / `pixel_std`). One definition for SAM's input contract and for HSP-SAM's
/// transforms.
public enum ImageNetNormalization {
  public static let mean: [Float] = [123.675, 116.28, 103.53]
  public static let standardDeviation: [Float] = [58.395, 57.12, 57.375]

  /// `images` (B, 3, H, W) on 0...255, on any device, normalised per channel.
  public static func apply(_ images: Tensor) throws -> Tensor {
    let mean = try Tensor(mean, shape: [1, 3, 1, 1]).to(images.device)
    let std = try Tensor(standardDeviation, shape: [1, 3, 1, 1]).to(images.device)
    return try (images - mean) / std
  }
}
