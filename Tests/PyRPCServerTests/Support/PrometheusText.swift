import Foundation

/// Prometheus's text format as a scrape reads it: each sample by its series, written as
/// `name{label="value",...}` with the labels sorted, so a test names a series however the
/// server ordered its labels.
struct PrometheusText {
    let text: String
    private(set) var samples: [String: Double] = [:]

    init(_ text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[Self.key(String(line[..<space]))] = value
        }
    }

    /// The sample of `series` (`name` or `name{a="x",b="y"}`, labels in any order); nil if absent.
    subscript(_ series: String) -> Double? { samples[Self.key(series)] }

    /// The sample, or 0 when the series is absent (a counter not yet counted).
    func value(_ series: String) -> Int { Int(self[series] ?? 0) }

    private static func key(_ series: String) -> String {
        guard let open = series.firstIndex(of: "{"), series.hasSuffix("}") else { return series }
        let labels = series[series.index(after: open)..<series.index(before: series.endIndex)]
        // Label values here hold no commas or quotes.
        let sorted = labels.split(separator: ",").map(String.init).sorted().joined(separator: ",")
        return String(series[..<open]) + "{" + sorted + "}"
    }
}
