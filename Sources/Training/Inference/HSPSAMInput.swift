import Data

/// HSP-SAM's input contract, in one place for training, the prefix cache and prediction: the square input's side,
/// how an image reaches it (longest side + padding, or squashed), and the intensity normalisation, as a trained
/// model's configuration fixes them. SAM and LiteMedSAM have theirs in `InputContract`; augmentation alone is
/// training's (`SampleTransform`'s `augmentation`).
public struct HSPSAMInput: Equatable, Sendable {
  public var size: Int
  public var geometry: Geometry
  public var normalization: Normalization

  public init(size: Int, geometry: Geometry, normalization: Normalization) {
    self.size = size
    self.geometry = geometry
    self.normalization = normalization
  }

  /// The input a model trained with `config` expects.
  public init(_ config: TrainingConfig) {
    self.init(size: config.inputSize, geometry: config.resize, normalization: config.inputNormalization)
  }

  /// The transform from an image (and mask) to this input; `augmentation` only when training.
  public func transform(augmentation: Augmentation? = nil) -> SampleTransform {
    SampleTransform(size: size, geometry: geometry, normalization: normalization, augmentation: augmentation)
  }
}
