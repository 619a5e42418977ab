import ArgumentParser
import Foundation
import NN
import Tensor

/// `hspsam bench foundation`: throughput of the building blocks everything else stands on.
/// Timings are medians over `--runs` after `--warmup` runs; FLOPs count multiply-adds as 2.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmarks (medians of repeated runs). Compare with scripts/bench.sh, which runs PyTorch beside us.",
    subcommands: [FoundationBench.self, SAMBench.self, LoaderBench.self, HSPBench.self]
  )
}

struct FoundationBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "foundation",
    abstract: "sgemm 1024^3, conv2d 3x3 256->256 at 64x64, a ViT-B block forward+backward at 484 tokens."
  )

  @Option(help: "Timed runs per workload.") var runs = 20
  @Option(help: "Untimed warm-up runs per workload.") var warmup = 3
  @Option(help: "Intra-op threads.") var threads = 2
  @Flag(help: "Print JSON lines instead of a table.") var json = false

  func validate() throws {
    guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    Torch.threadCount = threads
    try Torch.manualSeed(0)
    var results: [BenchResult] = []

    for n in [512, 1024, 2048] {
      let a = try Tensor.randn([n, n]), b = try Tensor.randn([n, n])
      let flop = 2.0 * Double(n * n * n)
      results.append(try measure("sgemm \(n)^3", flop: flop, runs: n > 1024 ? max(3, runs / 4) : runs) {
        _ = try a.matmul(b)
      })
    }

    let x = try Tensor.randn([1, 256, 64, 64])
    let conv = try Conv2d(256, 256, kernelSize: 3, padding: 1)
    results.append(try Torch.withNoGrad {
      try measure("conv2d 3x3 256->256 64x64", flop: 2.0 * 256 * 256 * 9 * 64 * 64, runs: runs) { _ = try conv(x) }
    })

    let block = try VisionTransformerBlock(dim: 768, heads: 12, mlpDim: 3072)
    let tokens = try Tensor.randn([1, 22, 22, 768])
    results.append(try Torch.withNoGrad {
      try measure("ViT-B block forward", flop: block.forwardFLOP(tokens: 484), runs: runs) { _ = try block(tokens) }
    })
    results.append(try measure("ViT-B block forward+backward", flop: 3 * block.forwardFLOP(tokens: 484), runs: runs) {
      try block.zeroGrad()
      try block(tokens).sum().backward()
    })

    let peak = results.filter { $0.name.hasPrefix("sgemm") }.map(\.gflops).max() ?? 0
    if json {
      for r in results { print(r.json) }
    } else {
      print("hspsam bench foundation: libtorch \(Torch.version), \(threads) threads, median of \(runs)")
      for r in results { print(r.row) }
      print(String(format: "measured sgemm peak (best of the sgemm rows): %.1f GFLOP/s", peak))
    }
  }

  private func measure(_ name: String, flop: Double, runs: Int, _ body: () throws -> Void) throws -> BenchResult {
    try BenchTimer(warmup: warmup).measure(name, flop: flop, runs: runs, body)
  }
}

/// Median wall time of `runs` calls after `warmup` untimed ones. `perItem` divides the time (per-image figures).
struct BenchTimer {
  let warmup: Int

  func measure(_ name: String, flop: Double, runs: Int, perItem: Int = 1, _ body: () throws -> Void) throws -> BenchResult {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<runs {
      let start = DispatchTime.now().uptimeNanoseconds
      try body()
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(perItem))
    }
    times.sort()
    return BenchResult(name: name, flop: flop, seconds: times[times.count / 2])
  }
}

struct BenchResult {
  let name: String
  let flop: Double
  let seconds: Double
  var gflops: Double { flop / seconds / 1e9 }
  var row: String {
    let label = name.padding(toLength: Swift.max(36, name.count), withPad: " ", startingAt: 0)
    return flop > 0 ? label + String(format: " %9.2f ms %8.1f GFLOP/s", seconds * 1e3, gflops)
      : label + String(format: " %9.2f ms", seconds * 1e3)
  }
  var json: String {
    String(format: "{\"name\": \"%@\", \"seconds\": %.6f, \"gflops\": %.3f}", name as NSString, seconds, gflops)
  }
}

/// A pre-norm transformer block with global attention, laid out as SAM's ViT `Block` without relative positions:
/// x + proj(attn(norm1(x))), then + mlp(norm2(x)). Input (B, H, W, C).
final class VisionTransformerBlock: Module {
  let norm1: LayerNorm, norm2: LayerNorm
  let qkv: Linear, proj: Linear
  let mlp: MLPBlock
  let heads: Int

  init(dim: Int, heads: Int, mlpDim: Int) throws {
    norm1 = try LayerNorm(dim)
    qkv = try Linear(dim, 3 * dim)
    proj = try Linear(dim, dim)
    norm2 = try LayerNorm(dim)
    mlp = try MLPBlock(embeddingDim: dim, mlpDim: mlpDim)
    self.heads = heads
    super.init()
    registerChild("norm1", norm1)
    let attn = registerChild("attn", Module())
    attn.registerChild("qkv", qkv)
    attn.registerChild("proj", proj)
    registerChild("norm2", norm2)
    registerChild("mlp", mlp)
  }

  func forwardFLOP(tokens n: Int) -> Double {
    let c = Double(qkv.weight.shape[1]), hidden = Double(mlp.lin1.weight.shape[0]), t = Double(n)
    return 2 * t * c * (3 * c + c + 2 * hidden) + 4 * t * t * c
  }

  func callAsFunction(_ x: Tensor) throws -> Tensor {
    let (b, h, w, c) = (x.size(0), x.size(1), x.size(2), x.size(3))
    let n = h * w, d = c / heads
    // (3, B*heads, N, d)
    let qkvOut = try qkv(norm1(x)).reshape([b, n, 3, heads, d]).permute([2, 0, 3, 1, 4]).reshape([3, b * heads, n, d])
    let q = try qkvOut[0], k = try qkvOut[1], v = try qkvOut[2]
    let attention = try (q * (1.0 / Double(d).squareRoot())).matmul(k.transpose(-2, -1)).softmax(dim: -1)
    let out = try attention.matmul(v).view([b, heads, h, w, d]).permute([0, 2, 3, 1, 4]).reshape([b, h, w, c])
    let y = try x + proj(out)
    return try y + mlp(norm2(y))
  }
}
