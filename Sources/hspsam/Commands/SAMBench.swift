import ArgumentParser
import Foundation
import Models
import NN
import Tensor

/// `hspsam bench sam`: encoder and decoder times of LiteMedSAM (batch 1 and 8) and SAM ViT-B at 1024, with the
/// process's peak resident memory. Random inputs; LiteMedSAM uses the set-up weights when present.
struct SAMBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sam",
    abstract: "LiteMedSAM encoder (batch 1 and 8) and decoder, SAM ViT-B encoder at 1024; peak memory."
  )

  @Option(help: "Timed runs per workload (the batch-8 and ViT-B encoders use fewer).") var runs = 5
  @Option(help: "Intra-op threads.") var threads = 2
  @Flag(help: "Print JSON lines instead of a table.") var json = false
  @Flag(help: "Skip the ViT-B workload.") var skipVitB = false

  func run() throws {
    Torch.threadCount = threads
    try Torch.manualSeed(0)
    let timer = BenchTimer(warmup: 1)
    var results: [BenchResult] = []
    let weights = Paths.liteMedSAMWeights
    let lite = FileManager.default.fileExists(atPath: weights)
      ? try ModelRegistry.load(.litemedsam, checkpoint: weights) : try ModelRegistry.build(.litemedsam)
    lite.eval()
    try Torch.withNoGrad {
      let x1 = try Tensor.rand([1, 3, 256, 256])
      results.append(try timer.measure("litemedsam encoder b1", flop: 74.9e9, runs: runs) { _ = try lite.imageEncoder(x1) })
      let x8 = try Tensor.rand([8, 3, 256, 256])
      results.append(try timer.measure("litemedsam encoder b8 (per image)", flop: 74.9e9, runs: Swift.max(1, runs / 2),
                                       perItem: 8) { _ = try lite.imageEncoder(x8) })
      let embedding = try lite.imageEncoder(x1)
      let box = try Tensor([40, 50, 180, 200] as [Float], shape: [1, 1, 4])
      results.append(try timer.measure("litemedsam decoder (one box)", flop: 3.62e9, runs: runs * 4) {
        _ = try lite.decode(embedding: embedding, boxes: box, multimaskOutput: false)
      })
      if !skipVitB {
        let vit = try ModelRegistry.build(.vitB)
        vit.eval()
        let x = try Tensor.rand([1, 3, 1024, 1024])
        results.append(try timer.measure("vit_b encoder 1024 b1", flop: 0, runs: Swift.max(1, runs / 2)) {
          _ = try vit.imageEncoder(x)
        })
        let e = try vit.imageEncoder(x)
        results.append(try timer.measure("vit_b decoder (one box)", flop: 0, runs: runs * 4) {
          _ = try vit.decode(embedding: e, boxes: box, multimaskOutput: false)
        })
      }
    }
    let peak = peakResidentMegabytes()
    if json {
      for r in results { print(r.json) }
      print("{\"name\": \"peak RSS MB\", \"value\": \(peak)}")
    } else {
      print("hspsam bench sam: libtorch \(Torch.version), \(threads) threads")
      for r in results { print(r.row) }
      print(String(format: "peak resident memory: %.0f MB", peak))
    }
  }
}

/// Peak resident set size of this process in MB (Linux `ru_maxrss` is in kB).
func peakResidentMegabytes() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}
