import Foundation
import Tensor
import XCTest

/// Committed fixtures under Tests/Fixtures, made by the scripts in scripts/fixtures.
public enum Fixtures {
  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

  /// The repository root (above Tests/).
  public static let repository = root.deletingLastPathComponent().deletingLastPathComponent()

  /// ../shared/data beside the checkout, where the real datasets live.
  public static let sharedData = repository.deletingLastPathComponent().appendingPathComponent("shared/data")

  /// The LiteMedSAM weights set-up fetches (vendor/weights, ignored by git).
  public static let liteMedSAMWeights = repository.appendingPathComponent("vendor/weights/lite_medsam.pth").path

  /// The weights' path, or a skip (with the command that installs them) where set-up has not run.
  public static func requireLiteMedSAMWeights() throws -> String {
    guard FileManager.default.fileExists(atPath: liteMedSAMWeights) else {
      throw XCTSkip("lite_medsam.pth absent: run scripts/setup.sh")
    }
    return liteMedSAMWeights
  }

  /// The tensors of a fixture safetensors file, by name.
  public static func tensors(_ relative: String) throws -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: try Safetensors.read(path: path(relative)).tensors.map { ($0.name, $0.tensor) })
  }
}

extension Dictionary where Key == String, Value == Tensor {
  /// The fixture tensor `name`, or a test failure naming it.
  public func fixture(_ name: String) throws -> Tensor {
    guard let t = self[name] else { throw TorchError.invalidArgument("fixture tensor \(name) is missing") }
    return t
  }
}

/// Largest |a - b| (as float64), after checking the shapes agree.
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
  guard a.shape == b.shape else { throw TorchError.invalidArgument("shapes differ: \(a.shape) vs \(b.shape)") }
  if a.count == 0 { return 0 }
  return try (a.to(.float64) - b.to(.float64)).abs().max().item()
}

/// Asserts |actual - expected| <= atol + rtol * |expected| everywhere (numpy's allclose), reporting the worst error.
public func assertAllClose(_ actual: Tensor, _ expected: Tensor, atol: Double, rtol: Double = 0,
                           _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
  do {
    guard actual.shape == expected.shape else {
      XCTFail("shape \(actual.shape) != expected \(expected.shape) \(message())", file: file, line: line)
      return
    }
    if actual.count == 0 { return }
    let a = try actual.to(.float64), e = try expected.to(.float64)
    let excess = try ((a - e).abs() - (e.abs() * rtol + atol)).max().item()
    if excess > 0 {
      let worst = try maxAbsDifference(a, e)
      XCTFail("max abs diff \(worst) exceeds atol \(atol) + rtol \(rtol)·|expected| \(message())", file: file, line: line)
    }
  } catch {
    XCTFail("comparison failed: \(error) \(message())", file: file, line: line)
  }
}

/// The built `hspsam` executable, next to the test bundle.
public var hspsamExecutable: URL {
  let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hspsam")
  return FileManager.default.fileExists(atPath: executable.path) ? executable : Bundle.main.bundleURL.appendingPathComponent("hspsam")
}

/// Runs the built `hspsam` executable as a user would.
public func runHSPSAM(_ arguments: [String], environment: [String: String] = [:]) throws
  -> (status: Int32, stdout: String, stderr: String)
{
  let process = Process()
  process.executableURL = hspsamExecutable
  process.arguments = arguments
  if !environment.isEmpty {
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
  }
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let stdout = out.fileHandleForReading.readDataToEndOfFile()
  let stderr = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// A fresh temporary folder, removed by the caller's `defer`.
public func makeTemporaryFolder() throws -> URL {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hspsam-test-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir
}

