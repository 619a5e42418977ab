import Data
import Foundation

/// Tables, CSV and JSON of metric rows (one per dataset).
public enum MetricsReport {
  public static func number(_ value: Double?, digits: Int = 4) -> String {
    guard let value else { return "" }
    if value.isNaN { return "nan" }
    return value == value.rounded() && Swift.abs(value) < 1e9 ? String(Int(value)) : String(format: "%.\(digits)f", value)
  }

  /// The columns of the markdown rows, after method and dataset (scripts/reproduce.sh writes the header).
  public static let markdownColumns = ["count", "Dice@0.5", "IoU@0.5", "mDice", "mIoU", "Smeasure", "wFmeasure", "meanEmeasure", "MAE"]
  /// The columns of table, CSV, JSON and the HTML report: every metric, then the per-class Dice any row has
  /// (`Dice.class1`, ... for multi-class models; empty where a row has none).
  public static func columns(_ summaries: [[String: Double]]) -> [String] {
    let classColumns = Set(summaries.flatMap(\.keys).filter { $0.hasPrefix("Dice.class") })
      .sorted { Int($0.dropFirst("Dice.class".count)) ?? 0 < Int($1.dropFirst("Dice.class".count)) ?? 0 }
    return MetricsAccumulator.metricNames + classColumns
  }

  public static func render(_ rows: [(name: String, summary: [String: Double])], format: String, method: String? = nil,
                     perImage: [String: [(stem: String, metrics: ImageMetrics)]] = [:]) -> String {
    let names = columns(rows.map(\.summary))
    switch format {
    case "markdown":
      // The rows of docs/results.md: `| method | dataset | n | Dice@0.5 | IoU@0.5 | mDice | mIoU | Smeasure | wFmeasure | meanEm | MAE |`.
      return rows.map { row in
        "| \(method ?? "") | \(row.name) | " + markdownColumns.map { number(row.summary[$0], digits: $0 == "count" ? 0 : 3) }
          .joined(separator: " | ") + " |"
      }.joined(separator: "\n")
    case "csv":
      return (["dataset," + names.joined(separator: ",")]
        + rows.map { row in ([row.name] + names.map { number(row.summary[$0]) }).joined(separator: ",") })
        .joined(separator: "\n")
    case "json":
      func jsonValue(_ v: Double?) -> Any { guard let v, !v.isNaN else { return NSNull() }; return v }
      let objects: [[String: Any]] = rows.map { row in
        var object: [String: Any] = ["dataset": row.name]
        for name in names { object[name] = name == "count" || name == "emptyGT" ? Int(row.summary[name] ?? 0) : jsonValue(row.summary[name]) }
        if let images = perImage[row.name] {
          object["perImage"] = images.map { item -> [String: Any] in
            ["name": item.stem, "mDice": jsonValue(item.metrics.mDice), "mIoU": jsonValue(item.metrics.mIoU),
             "Smeasure": jsonValue(item.metrics.sMeasure), "wFmeasure": jsonValue(item.metrics.wFmeasure),
             "meanEmeasure": jsonValue(item.metrics.meanEmeasure), "adpEmeasure": jsonValue(item.metrics.adpEmeasure),
             "MAE": jsonValue(item.metrics.mae), "Dice@0.5": item.metrics.dice05, "IoU@0.5": item.metrics.iou05]
          }
        }
        return object
      }
      let data = (try? JSONSerialization.data(withJSONObject: objects.count == 1 ? objects[0] as Any : objects,
                                              options: [.prettyPrinted, .sortedKeys])) ?? Data()
      return String(decoding: data, as: UTF8.self)
    default:
      let widths = names.map { Swift.max($0.count, 6) }
      let nameWidth = Swift.max(8, rows.map(\.name.count).max() ?? 0)
      var lines = ["dataset".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
        + zip(names, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: " ")]
      for row in rows {
        lines.append(row.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
          + zip(names, widths).map { number(row.summary[$0.0]).padding(toLength: $0.1, withPad: " ", startingAt: 0) }
          .joined(separator: " "))
      }
      return lines.joined(separator: "\n")
    }
  }
}
