import Data
import Foundation
import Tensor

/// What `hspsam evaluate` writes for people and scripts: the JSON summary (means first) and a self-contained
/// HTML page (metrics table per dataset, a histogram of per-image Dice@0.5, the best/worst overlay grid), with
/// every image embedded as a data URI so the page can be mailed or archived alone.
public enum EvaluationReport {
  /// The JSON summary: `means` (one object per dataset) first, then per-dataset details and `source`.
  public static func summaryJSON(_ rows: [ModelEvaluation.Row], source: String) throws -> Data {
    func encode(_ value: Any) throws -> String {
      String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed]),
             as: UTF8.self)
    }
    let means = rows.map { row -> [String: Any] in
      var object: [String: Any] = ["dataset": row.name]
      for (k, v) in row.summary { object[k] = v.isNaN ? NSNull() : v }
      return object
    }
    let details = rows.map { row -> [String: Any] in
      ["dataset": row.name, "secondsPerImage": row.secondsPerImage,
       "worst": row.gallery.worst.map { ["stem": $0.stem, "Dice@0.5": $0.dice] },
       "best": row.gallery.best.map { ["stem": $0.stem, "Dice@0.5": $0.dice] },
       "perImageDice@0.5": Dictionary(row.perImage.map { ($0.stem, $0.dice) }, uniquingKeysWith: { a, _ in a }),
       "skipped": row.skipped.map { ["path": $0.path, "reason": $0.reason] }]
    }
    // Hand-assembled top level: JSONSerialization cannot order keys, and a reader should meet the means first.
    let text = "{\n\"means\": \(try encode(means)),\n\"details\": \(try encode(details)),\n\"source\": \(try encode(source)),\n"
      + "\"metricDefinitions\": \"docs/metrics.md (pysodmetrics 1.6.2)\"\n}\n"
    return Data(text.utf8)
  }

  /// Writes `folder/index.html`, `folder/summary.json` and `folder/<dataset>_cases.png`. Returns the page's path.
  @discardableResult
  public static func write(_ rows: [ModelEvaluation.Row], title: String, source: String, to folder: String) throws -> String {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let base = URL(fileURLWithPath: folder)
    try writeAtomically(summaryJSON(rows, source: source), to: base.appendingPathComponent("summary.json").path)
    var sections: [String] = []
    for row in rows {
      let grid = row.gallery.render(title: row.name)
      let gridPath = base.appendingPathComponent("\(fileSafe(row.name))_cases.png").path
      try ImageIO.writePNG(grid.rgb, width: grid.width, height: grid.height, channels: 3, to: gridPath)
      let png = try Data(contentsOf: URL(fileURLWithPath: gridPath)).base64EncodedString()
      sections.append("""
        <section><h2>\(escape(row.name))</h2>
        \(skippedNote(row.skipped))<h3>Per-image Dice@0.5 (\(row.perImage.count) images)</h3>
        \(histogramSVG(row.perImage.map(\.dice)))
        <h3>Worst and best cases</h3>
        <p>Each row: image, ground truth (green), prediction at p &gt; 0.5 (orange).</p>
        <img alt="best and worst cases of \(escape(row.name))" src="data:image/png;base64,\(png)">
        \(perImageList(row.perImage))
        </section>
        """)
    }
    let html = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
      <style>
      body { font-family: sans-serif; margin: 24px; color: #222; }
      table { border-collapse: collapse; font-size: 13px; }
      th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: right; }
      th:first-child, td:first-child { text-align: left; }
      th { background: #eee; }
      img { border: 1px solid #ccc; max-width: 100%; }
      </style></head>
      <body>
      <h1>\(escape(title))</h1>
      <p>Source: \(escape(source)). Metrics as in docs/metrics.md (pysodmetrics 1.6.2): mDice/mIoU average
      over 256 thresholds of the min-max normalised map (PraNet toolbox); Dice@0.5/IoU@0.5 threshold the probability at 0.5.</p>
      <div style="overflow-x: auto">\(metricsTable(rows))</div>
      \(sections.joined(separator: "\n"))
      </body></html>
      """
    let page = base.appendingPathComponent("index.html").path
    try writeAtomically(Data(html.utf8), to: page)
    return page
  }

  /// Every image's Dice@0.5 (never NaN: an empty mask and prediction score 1), worst first, ties by stem, folded:
  /// the grid shows a few cases, this finds the rest.
  static func perImageList(_ perImage: [(stem: String, dice: Double)]) -> String {
    let ordered = perImage.sorted { ($0.dice, $0.stem) < ($1.dice, $1.stem) }
    let rows = ordered.enumerated().map { rank, item in
      "<tr><td>\(rank + 1)</td><td>\(escape(item.stem))</td><td>\(MetricsReport.number(item.dice))</td></tr>"
    }
    return "<details><summary>Every image, worst Dice@0.5 first (\(perImage.count))</summary>\n"
      + "<table class=\"per-image\"><tr><th>rank</th><th>image</th><th>Dice@0.5</th></tr>\n"
      + rows.joined(separator: "\n") + "\n</table></details>"
  }

  /// The pairs `--skip-invalid` left out of a row, named where a reader of its numbers will look.
  static func skippedNote(_ skipped: [FileError]) -> String {
    guard !skipped.isEmpty else { return "" }
    let items = skipped.map { "<li>\(escape($0.localizedDescription))</li>" }.joined()
    return "<p class=\"skipped\">\(skipped.count) image/mask pair\(skipped.count == 1 ? "" : "s") could not be read and "
      + "\(skipped.count == 1 ? "is" : "are") not in this row:</p><ul>\(items)</ul>\n"
  }

  static func metricsTable(_ rows: [ModelEvaluation.Row]) -> String {
    let names = MetricsReport.columns(rows.map(\.summary))
    let header = "<tr><th>dataset</th>" + names.map { "<th>\(escape($0))</th>" }.joined() + "<th>s/image</th></tr>"
    let body = rows.map { row in
      "<tr><td>\(escape(row.name))</td>" + names.map { "<td>\(MetricsReport.number(row.summary[$0]))</td>" }.joined()
        + String(format: "<td>%.2f</td></tr>", row.secondsPerImage)
    }
    return "<table id=\"metrics\">\n\(header)\n\(body.joined(separator: "\n"))\n</table>"
  }

  /// 20 bins over [0, 1]; bar heights scaled to the fullest bin.
  static func histogramSVG(_ values: [Double]) -> String {
    let bins = 20, (width, height, left, bottom) = (520, 200, 40, 24)
    var counts = [Int](repeating: 0, count: bins)
    for v in values where !v.isNaN { counts[Swift.min(bins - 1, Swift.max(0, Int(v * Double(bins))))] += 1 }
    let top = Swift.max(1, counts.max() ?? 1)
    let barWidth = Double(width - left - 10) / Double(bins)
    var parts = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" role=\"img\">"]
    for (i, c) in counts.enumerated() {
      let h = Double(height - bottom - 10) * Double(c) / Double(top)
      parts.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3a78c2\"><title>%.2f-%.2f: %d</title></rect>",
                          Double(left) + Double(i) * barWidth + 1, Double(height - bottom) - h, barWidth - 2, h,
                          Double(i) / Double(bins), Double(i + 1) / Double(bins), c))
    }
    parts.append("<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - 10)\" y2=\"\(height - bottom)\" stroke=\"#444\"/>")
    for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
      let x = Double(left) + tick * Double(width - left - 10)
      parts.append(String(format: "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%.2f</text>", x, height - 8, tick))
    }
    parts.append("<text x=\"4\" y=\"16\" font-size=\"11\">\(top)</text><text x=\"4\" y=\"\(height - bottom)\" font-size=\"11\">0</text>")
    parts.append("</svg>")
    return parts.joined(separator: "\n")
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  static func fileSafe(_ name: String) -> String {
    String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
  }
}
