import CTorch

/// Wall time per libtorch op (forward aten ops and autograd backward functions), total and self, through
/// libtorch's RecordFunction callbacks: where a training step goes, op by op.
public enum OpProfiler {
  /// Runs `body` with every op timed and returns its result with a table of the `rows` ops with most self time.
  public static func profile<R>(rows: Int = 30, _ body: () throws -> R) throws -> (result: R, table: String) {
    _ = hst_profiler_start()
    let result: R
    do { result = try body() } catch {
      _ = stopTable(rows: rows)
      throw error
    }
    return (result, stopTable(rows: rows))
  }

  static func stopTable(rows: Int) -> String {
    var text: UnsafeMutablePointer<CChar>?
    _ = hst_profiler_stop(Int64(rows), &text)
    guard let text else { return "" }
    defer { hst_free_string(text) }
    return String(cString: text)
  }
}
