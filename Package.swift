// swift-tools-version: 6.0
// hspsam: prompt-free medical image segmentation (HSP-SAM) in Swift on libtorch.
import Foundation
import PackageDescription

// libtorch is extracted by scripts/setup.sh into vendor/libtorch (gitignored). Absolute paths are computed from
// this file's location so the rpath is right in any clone; HSPSAM_LIBTORCH overrides the folder.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let libtorch = ProcessInfo.processInfo.environment["HSPSAM_LIBTORCH"] ?? "\(packageRoot)/vendor/libtorch"
let libtorchLib = "\(libtorch)/lib"

let package = Package(
  name: "hspsam",
  platforms: [.macOS(.v14)],
  products: [
    .library(name: "Tensor", targets: ["Tensor"]),
    .library(name: "NN", targets: ["NN"]),
    // The library a user's package depends on: `import Training` has every verb (TrainedModel, PredictionRun,
    // EvaluationRun, SegmentationRun, Trainer), `Data` the images and metrics.
    .library(name: "HSPSAM", targets: ["Training", "Data", "Models"]),
    .executable(name: "hspsam", targets: ["hspsam"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    .target(
      name: "CTorch",
      cxxSettings: [
        .headerSearchPath("../../vendor/libtorch/include"),
        .headerSearchPath("../../vendor/libtorch/include/torch/csrc/api/include"),  // c10d's headers include torch/types.h
        .unsafeFlags(["-O2"]),
      ],
      linkerSettings: [
        .linkedLibrary("torch_cpu"),
        .linkedLibrary("c10"),
        .unsafeFlags(["-L\(libtorchLib)", "-Xlinker", "-rpath", "-Xlinker", libtorchLib]),
      ]
    ),
    // .xz for shipped model files, from Debian's liblzma (installed by scripts/setup.sh).
    .target(name: "CXZ", linkerSettings: [.linkedLibrary("lzma")]),
    .target(name: "Tensor", dependencies: ["CTorch", "CXZ"]),
    .target(name: "NN", dependencies: ["Tensor"]),
    .target(name: "Models", dependencies: ["NN", "Tensor"]),
    // Image codecs from Debian's libjpeg-turbo, libpng and libtiff (installed by scripts/setup.sh).
    .target(
      name: "CImageCodecs",
      linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("tiff")]
    ),
    .target(name: "Data", dependencies: ["Tensor", "CImageCodecs"]),
    .target(name: "Training", dependencies: ["Models", "Data", "NN", "Tensor"]),
    .executableTarget(
      name: "hspsam",
      dependencies: ["Tensor", "NN", "Models", "Data", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),
    .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
    .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "TestSupport"]),
    .testTarget(name: "ModelsTests", dependencies: ["Models", "NN", "Tensor", "Data", "TestSupport"]),
    .testTarget(name: "DataTests", dependencies: ["Data", "Tensor", "TestSupport"]),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "Models", "Data", "NN", "Tensor", "TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["TestSupport", "Data", "Models", "Tensor", "Training", "hspsam"]),
    .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
  ],
  cxxLanguageStandard: .cxx20
)
