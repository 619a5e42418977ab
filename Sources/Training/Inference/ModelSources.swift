import Foundation
import Tensor

/// Where every verb's model files and device come from, in one place: the repository's set-up (`vendor/weights`,
/// `vendor/libtorch`), the built-in models in `models/`, and `--device`-style names. `HSPSAM_HOME` overrides the
/// repository folder (the one this library was built from), e.g. for a copied binary or a package that depends on
/// this one.
public enum ModelSources {
  public static var repository: URL {
    if let home = ProcessInfo.processInfo.environment["HSPSAM_HOME"] { return URL(fileURLWithPath: home) }
    // Sources/Training/Inference/ModelSources.swift -> the repository root.
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url
  }

  /// LiteMedSAM's weights as set-up installs them: the default base of trained models and the box refiner.
  public static var liteMedSAMWeights: String { repository.appendingPathComponent("vendor/weights/lite_medsam.pth").path }
  /// libtorch's CUDA backend, present after `HSPSAM_CUDA=1 bash scripts/setup.sh`.
  /// `HSPSAM_LIBTORCH_LIB` names another libtorch folder (an installed torch's `lib/`, as the GPU check uses).
  public static var libtorchCUDA: String {
    if let folder = ProcessInfo.processInfo.environment["HSPSAM_LIBTORCH_LIB"] { return folder + "/libtorch_cuda.so" }
    return repository.appendingPathComponent("vendor/libtorch/lib/libtorch_cuda.so").path
  }

  /// Trained models shipped in `models/` (trained tensors only; the base weights come from set-up). The first is
  /// the default of `predict` and `evaluate`.
  public static let builtinModels = ["hsp-clinicdb"]
  /// `models/NAME.safetensors`, or `models/NAME.safetensors.xz` (compressed, read as it is) when only that exists.
  public static func builtinModelPath(_ name: String) -> String {
    let plain = repository.appendingPathComponent("models/\(name).safetensors").path
    return FileManager.default.fileExists(atPath: plain) || !FileManager.default.fileExists(atPath: plain + ".xz") ? plain : plain + ".xz"
  }

  /// A run folder, a checkpoint file, a built-in model's name (a path of that name wins), or nil for the default
  /// built-in model.
  public static func checkpoint(_ checkpoint: String?) throws -> String {
    let name = checkpoint ?? builtinModels[0]
    guard builtinModels.contains(name), !FileManager.default.fileExists(atPath: name) else { return name }
    let path = builtinModelPath(name)
    guard FileManager.default.fileExists(atPath: path) else { throw ModelSourceError.missingBuiltinModel(name, path: path) }
    return path
  }

  /// The device named `cpu`, `cuda` or `cuda:N`, with libtorch's CUDA backend loaded and checked when asked for.
  /// `localRank`: this process's rank among the data-parallel processes of its machine; a plain `cuda` then means
  /// the GPU of that rank (`cuda:localRank`, wrapping round when the ranks outnumber the GPUs), as a PyTorch script
  /// launched by torchrun sets `torch.cuda.set_device(LOCAL_RANK)`. An explicit `cuda:N` is kept.
  public static func device(_ name: String, localRank: Int? = nil) throws -> Device {
    guard let device = Device(name), device != .meta else { throw ModelSourceError.unknownDevice(name) }
    guard case .cuda(let index) = device else { return device }
    let library = libtorchCUDA
    guard FileManager.default.fileExists(atPath: library) else { throw ModelSourceError.cudaNotInstalled(library) }
    do { try Torch.loadCUDA(path: library) } catch { throw ModelSourceError.cudaNotLoadable(library, reason: "\(error)") }
    let count = Device.cudaDeviceCount
    guard index < count else { throw ModelSourceError.noSuchCUDADevice(index, count: count) }
    if let localRank, !name.contains(":") { return .cuda(rankGPU(localRank: localRank, gpus: count)) }
    return device
  }

  /// The GPU of a machine's `localRank`-th process: one each, round-robin when there are more processes than GPUs.
  public static func rankGPU(localRank: Int, gpus: Int) -> Int { gpus > 0 ? localRank % gpus : 0 }
}

/// A model file or device that cannot be had; the message names it (commands add the option that gave it).
public enum ModelSourceError: Error, LocalizedError, Equatable {
  case missingBuiltinModel(String, path: String)
  case unknownDevice(String)
  case cudaNotInstalled(String)
  case cudaNotLoadable(String, reason: String)
  case noSuchCUDADevice(Int, count: Int)

  public var errorDescription: String? {
    switch self {
    case .missingBuiltinModel(let name, let path): return "built-in model \(name) is missing (\(path)): check out the repository's models/ folder"
    case .unknownDevice: return "expected cpu, cuda or cuda:N"
    case .cudaNotInstalled(let library): return "\(library) is missing: run HSPSAM_CUDA=1 bash scripts/setup.sh"
    case .cudaNotLoadable(let library, let reason): return "cannot load \(library): \(reason)"
    case .noSuchCUDADevice(_, let count): return "libtorch's CUDA backend is loaded but sees \(count) CUDA device\(count == 1 ? "" : "s")"
    }
  }
}

/// A trained model ready to segment: the prompt-free predictor, with its test-time augmentation, and what segments
/// the foreground (the predictor itself, or its box refinement).
public struct TrainedModel {
  public let predictor: PromptFreePredictor
  public let segmenter: ForegroundSegmenter
  /// The resolved checkpoint file.
  public let checkpoint: String

  /// How a one-class model's objects are boxed for the frozen LiteMedSAM to outline (`BoxRefinement`).
  public struct BoxRefinementSettings: Sendable, Equatable {
    public var padding: Double?
    public var minimumAreaFraction: Double?
    public init(padding: Double? = nil, minimumAreaFraction: Double? = nil) {
      self.padding = padding
      self.minimumAreaFraction = minimumAreaFraction
    }
  }

  /// `checkpoint`: a run folder, checkpoint file, built-in model name, or nil for the default built-in model;
  /// `baseCheckpoint`: the base weights it was trained on (nil: set-up's LiteMedSAM).
  public init(checkpoint: String? = nil, baseCheckpoint: String? = nil, device: Device = .cpu,
              testTimeAugmentation: TestTimeAugmentation = .none, boxRefinement: BoxRefinementSettings? = nil) throws {
    self.checkpoint = try RunCheckpoint.resolve(ModelSources.checkpoint(checkpoint), parameter: .checkpoint)
    predictor = try PromptFreePredictor(checkpoint: self.checkpoint, baseCheckpoint: baseCheckpoint ?? ModelSources.liteMedSAMWeights,
                                        device: device)
    predictor.testTimeAugmentation = testTimeAugmentation
    guard let settings = boxRefinement else {
      segmenter = predictor
      return
    }
    let classes = predictor.metadata.config.model.numClasses
    guard classes == 1 else { throw ModelCapabilityError.boxRefinementNeedsOneClass(classes: classes) }
    let refinement = try BoxRefinement(promptFree: predictor, weights: ModelSources.liteMedSAMWeights, device: device)
    if let padding = settings.padding { refinement.padding = padding }
    if let fraction = settings.minimumAreaFraction { refinement.minimumAreaFraction = fraction }
    segmenter = refinement
  }
}
