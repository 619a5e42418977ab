import Foundation

/// The hidden sibling an atomic write goes through: `.<name>.tmp-<pid>` beside the target, renamed over it when
/// complete. A process killed mid-write (`kill -9`, power loss) leaves it behind; `removeStale(in:)` clears those.
public enum TemporaryFiles {
  public static func sibling(of url: URL) -> URL {
    url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
  }

  /// Removes the temporaries in `folder` (not its subfolders) whose writing process no longer runs; returns their
  /// names. A live process's temporary (another run writing into the folder) is left alone.
  @discardableResult
  public static func removeStale(in folder: URL) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    var removed: [String] = []
    for name in names where name.hasPrefix(".") {
      guard let range = name.range(of: ".tmp-", options: .backwards), let pid = Int32(name[range.upperBound...]), pid > 0 else { continue }
      // kill(pid, 0) probes without signalling: ESRCH means no such process; EPERM means it lives (another user's).
      if kill(pid, 0) == 0 || errno == EPERM { continue }
      if (try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))) != nil { removed.append(name) }
    }
    return removed
  }
}
