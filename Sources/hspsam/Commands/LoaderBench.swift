import ArgumentParser
import Data
import Foundation
import Tensor

/// `hspsam bench loader`: how many training samples per second the data pipeline prepares (decode, resize,
/// augment, normalise, batch) on background threads, at each requested input size.
struct LoaderBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "loader",
    abstract: "Data-loader throughput (images/s) with training augmentations, e.g. on CVC-ClinicDB at 256 and 1024."
  )

  @Option(help: "Dataset folder (images/ + masks/).") var data = "../shared/data/CVC-ClinicDB"
  @Option(help: "Split file inside the dataset folder.") var split: String?
  @Option(parsing: .upToNextOption, help: "Input sizes.") var sizes: [Int] = [256, 1024]
  @Option(help: "Batch size.") var batchSize = 8
  @Option(help: "Intra-op threads for libtorch.") var threads = 2

  func run() throws {
    Torch.threadCount = threads
    let dataset = try SegmentationDataset(root: data, split: split)
    print("hspsam bench loader: \(dataset.samples.count) samples from \(data), batch \(batchSize), all augmentations on")
    for size in sizes {
      var augmentation = Augmentation()
      augmentation.scaleRange = [0.75, 1.25]
      augmentation.colourJitter = 0.1
      augmentation.channelGain = 0.2
      augmentation.gamma = 0.4
      let loader = DataLoader(dataset: dataset, transform: SampleTransform(size: size, augmentation: augmentation),
                              batchSize: batchSize, shuffle: true, seed: 1)
      let start = DispatchTime.now().uptimeNanoseconds
      var count = 0
      for batch in loader { count += try batch.get().samples.count }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      print(String(format: "size %4d: %5d images in %6.2f s = %7.1f images/s", size, count, seconds, Double(count) / seconds))
    }
  }
}
