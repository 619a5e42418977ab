import Foundation
import Tensor

/// A data-parallel launch as PyTorch's launchers describe it in the environment (`torchrun`, Slurm scripts):
/// `RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`, and `LOCAL_RANK` / `LOCAL_WORLD_SIZE` (this process among
/// those on its machine; without `LOCAL_RANK`, as under a plain Slurm `srun`, RANK modulo LOCAL_WORLD_SIZE).
struct DistributedLaunch {
  var rank: Int
  var worldSize: Int
  var localRank: Int
  var localWorldSize: Int
  var host: String
  var port: Int

  /// The launch the environment describes; nil when `WORLD_SIZE` is unset or 1.
  static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DistributedLaunch? {
    guard environment["WORLD_SIZE"] != nil else { return nil }
    func number(_ name: String, default value: Int? = nil, in range: ClosedRange<Int>) throws -> Int {
      guard let text = environment[name] ?? value.map(String.init) else { throw CommandError.environment(name, reason: "is not set, though WORLD_SIZE is") }
      guard let n = Int(text), range.contains(n) else { throw CommandError.environment(name, reason: "must be a whole number in \(range), not '\(text)'") }
      return n
    }
    let worldSize = try number("WORLD_SIZE", in: 1...65536)
    guard worldSize > 1 else { return nil }
    let rank = try number("RANK", in: 0...(worldSize - 1))
    let localWorldSize = try number("LOCAL_WORLD_SIZE", default: 1, in: 1...worldSize)
    return DistributedLaunch(rank: rank, worldSize: worldSize,
                             localRank: try number("LOCAL_RANK", default: rank % localWorldSize, in: 0...(worldSize - 1)),
                             localWorldSize: localWorldSize,
                             host: environment["MASTER_ADDR"] ?? "127.0.0.1", port: try number("MASTER_PORT", default: 29500, in: 1...65535))
  }

  /// Joins the group (every rank must: rank 0 serves the rendezvous at MASTER_ADDR:MASTER_PORT).
  func join(timeout: Double = 60) throws -> ProcessGroup {
    do {
      return try ProcessGroup(host: host, port: port, rank: rank, worldSize: worldSize, timeout: timeout)
    } catch {
      throw CommandError.cannotJoin(rank: rank, worldSize: worldSize, address: "\(host):\(port)", timeoutSeconds: Int(timeout),
                                     reason: error.localizedDescription)
    }
  }
}

/// `train --nproc-per-node N`: starts N copies of this command on this machine as ranks 0..N-1 (the environment
/// `torchrun --nproc-per-node N` would give them), each with its share of the cores, and waits for them. SIGTERM is
/// passed on to the ranks; Ctrl-C reaches them from the terminal itself. A rank that fails makes the others fail
/// at their next collective (within the group's timeout); the launcher then names the rank that failed first.
enum LocalLauncher {
  static func run(processes: Int, arguments: [String], threadsPerProcess: Int) throws -> Int32 {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let port = try ProcessGroup.freePort()
    var children: [Process] = []
    let finished = DispatchSemaphore(value: 0)
    let order = OrderLog()
    signal(SIGINT, SIG_IGN)  // the ranks get the terminal's Ctrl-C themselves and save `last`
    signal(SIGTERM, SIG_IGN)
    let forward = DispatchSource.makeSignalSource(signal: SIGTERM)
    forward.setEventHandler { for child in children where child.isRunning { kill(child.processIdentifier, SIGTERM) } }
    forward.resume()
    for rank in 0..<processes {
      let child = Process()
      child.executableURL = executable
      child.arguments = arguments.contains("--threads") ? arguments : arguments + ["--threads", String(threadsPerProcess)]
      var environment = ProcessInfo.processInfo.environment
      environment["RANK"] = String(rank)
      environment["LOCAL_RANK"] = String(rank)
      environment["WORLD_SIZE"] = String(processes)
      environment["LOCAL_WORLD_SIZE"] = String(processes)
      environment["MASTER_ADDR"] = "127.0.0.1"
      environment["MASTER_PORT"] = String(port)
      child.environment = environment
      child.terminationHandler = { process in order.record(rank: rank, status: process.terminationStatus, reason: process.terminationReason); finished.signal() }
      try child.run()
      children.append(child)
    }
    for _ in 0..<processes { finished.wait() }
    forward.cancel()
    guard let failed = order.firstFailure else { return 0 }
    let how = failed.reason == .uncaughtSignal ? "was killed by signal \(failed.status)" : "exited with status \(failed.status)"
    FileHandle.standardError.write(Data("Error: rank \(failed.rank) of \(processes) \(how) first; the run stopped\n".utf8))
    return 1
  }
}

/// The ranks' exits in the order they came.
final class OrderLog: @unchecked Sendable {
  private let lock = NSLock()
  private var exits: [(rank: Int, status: Int32, reason: Process.TerminationReason)] = []
  func record(rank: Int, status: Int32, reason: Process.TerminationReason) { lock.lock(); exits.append((rank, status, reason)); lock.unlock() }
  var firstFailure: (rank: Int, status: Int32, reason: Process.TerminationReason)? {
    lock.lock(); defer { lock.unlock() }
    return exits.first { $0.status != 0 || $0.reason == .uncaughtSignal }
  }
}
