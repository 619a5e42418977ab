import ArgumentParser
import Foundation
import Tensor

/// `hspsam inspect FILE`: what a checkpoint holds, without building a model.
struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Print the tensors of a .pth or .safetensors checkpoint: counts, dtypes and key tree."
  )

  @Argument(help: "A PyTorch .pth/.pt file or a .safetensors file.")
  var file: String

  @Flag(help: "Print JSON instead of text.")
  var json = false

  @Option(help: "Depth of the key tree (dot-separated levels).")
  var depth = 2

  @Flag(help: "List every tensor with its shape and dtype.")
  var all = false

  func validate() throws {
    guard depth >= 1 else { throw ValidationError("--depth must be at least 1") }
  }

  func run() throws {
    let tensors = try CheckpointSummary.loadTensors(path: file)
    let summary = CheckpointSummary(tensors: tensors)
    if json {
      print(try summary.json(path: file, depth: depth, listAll: all))
    } else {
      print(summary.text(path: file, depth: depth, listAll: all), terminator: "")
      // A safetensors file's text metadata (an export's notes: training command, data), hspsam's own JSON aside.
      if Safetensors.isSafetensorsPath(file) {
        for (key, value) in try Safetensors.read(path: file).metadata.sorted(by: { $0.key < $1.key }) where key != "hspsam" {
          print("metadata \(key): \(value)")
        }
      }
    }
  }
}

/// Counts and key tree of a set of named tensors.
struct CheckpointSummary {
  struct Entry {
    let name: String
    let shape: [Int]
    let dtype: DType
    var count: Int { shape.reduce(1, *) }
  }
  let entries: [Entry]

  /// Buffers that PyTorch stores next to parameters but that are not trained: BatchNorm statistics and
  /// SAM's fixed random positional-encoding matrix.
  static func isStatistic(_ name: String) -> Bool {
    ["running_mean", "running_var", "num_batches_tracked", "positional_encoding_gaussian_matrix"].contains(name.split(separator: ".").last.map(String.init) ?? "")
  }

  static func loadTensors(path: String) throws -> [(name: String, tensor: Tensor)] {
    if Safetensors.isSafetensorsPath(path) { return try Safetensors.read(path: path).tensors }
    return try TorchCheckpoint.loadTensors(path: path)
  }

  init(tensors: [(name: String, tensor: Tensor)]) {
    entries = tensors.map { Entry(name: $0.name, shape: $0.tensor.shape, dtype: $0.tensor.dtype) }
  }

  var elementCount: Int { entries.reduce(0) { $0 + $1.count } }
  var parameterCount: Int { entries.filter { !Self.isStatistic($0.name) }.reduce(0) { $0 + $1.count } }

  var dtypeCounts: [(dtype: String, tensors: Int, elements: Int)] {
    var byType: [String: (Int, Int)] = [:]
    for e in entries { byType[e.dtype.description, default: (0, 0)].0 += 1; byType[e.dtype.description]!.1 += e.count }
    return byType.sorted { $0.key < $1.key }.map { ($0.key, $0.value.0, $0.value.1) }
  }

  /// Key prefixes cut at `depth`, in first-seen order, with tensor and element counts.
  func tree(depth: Int) -> [(prefix: String, tensors: Int, elements: Int)] {
    var order: [String] = []
    var totals: [String: (Int, Int)] = [:]
    for e in entries {
      let parts = e.name.split(separator: ".", omittingEmptySubsequences: false)
      for level in 1...min(depth, parts.count) {
        let prefix = parts.prefix(level).joined(separator: ".")
        if totals[prefix] == nil { order.append(prefix); totals[prefix] = (0, 0) }
        totals[prefix]!.0 += 1
        totals[prefix]!.1 += e.count
      }
    }
    return order.map { ($0, totals[$0]!.0, totals[$0]!.1) }
  }

  func text(path: String, depth: Int, listAll: Bool) -> String {
    var out = "\(path)\n"
    out += "tensors: \(entries.count)\n"
    out += "elements: \(elementCount)\n"
    out += "parameters: \(parameterCount) (elements, without BatchNorm statistics and SAM's positional-encoding buffer)\n"
    out += "dtypes: " + dtypeCounts.map { "\($0.dtype) \($0.tensors) tensors / \($0.elements) elements" }
      .joined(separator: ", ") + "\n"
    out += "key tree:\n"
    for node in tree(depth: depth) {
      let level = node.prefix.split(separator: ".").count - 1
      let name = node.prefix.split(separator: ".").last.map(String.init) ?? node.prefix
      out += String(repeating: "  ", count: level + 1) + "\(name)  [\(node.tensors) tensors, \(node.elements) elements]\n"
    }
    if listAll {
      out += "tensors:\n"
      for e in entries { out += "  \(e.name)  \(e.shape)  \(e.dtype)\n" }
    }
    return out
  }

  func json(path: String, depth: Int, listAll: Bool) throws -> String {
    var object: [String: Any] = [
      "file": path,
      "tensors": entries.count,
      "elements": elementCount,
      "parameters": parameterCount,
      "dtypes": Dictionary(uniqueKeysWithValues: dtypeCounts.map { ($0.dtype, ["tensors": $0.tensors, "elements": $0.elements]) }),
      "tree": tree(depth: depth).map { ["prefix": $0.prefix, "tensors": $0.tensors, "elements": $0.elements] },
    ]
    if listAll {
      object["entries"] = entries.map { ["name": $0.name, "shape": $0.shape, "dtype": $0.dtype.description] as [String: Any] }
    }
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    return String(decoding: data, as: UTF8.self)
  }
}
