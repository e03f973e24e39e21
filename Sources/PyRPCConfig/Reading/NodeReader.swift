/// Shape checks shared by the section readers. Every failure becomes a `ConfigError` at the
/// node that caused it, phrased as "expected X, found Y".
struct NodeReader: Sendable {
    let file: String

    func error(at node: YAMLNode, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node.line, column: node.column, message: message)
    }

    /// The pairs of a map; `nothing` (an empty value) reads as an empty map.
    func mapping(_ node: YAMLNode, expected: String) throws(ConfigError) -> [YAMLNode.Pair] {
        if case .mapping(let pairs) = node.content { return pairs }
        if node.isNull { return [] }
        throw error(at: node, "expected \(expected), found \(node.kindDescription)")
    }

    /// A non-empty scalar.
    func text(_ node: YAMLNode, expected: String) throws(ConfigError) -> String {
        guard let text = node.scalar, !node.isNull, !text.isEmpty else {
            throw error(at: node, "expected \(expected), found \(node.kindDescription)")
        }
        return text
    }

    /// A list of scalars. A single scalar is read as a list of its comma-separated parts and an
    /// empty value as an empty list, so `tenants: c1` and `providers: s1, s2` work. Returns the
    /// item nodes for positions.
    func textList(_ node: YAMLNode, expected: String) throws(ConfigError) -> [(text: String, node: YAMLNode)] {
        switch node.content {
        case .sequence(let items):
            var result: [(text: String, node: YAMLNode)] = []
            for item in items {
                result.append((try text(item, expected: "\(expected) entry (a name)"), item))
            }
            return result
        case .scalar:
            if node.isNull { return [] }
            var result: [(text: String, node: YAMLNode)] = []
            for part in try commaSeparated(node, expected: expected) {
                result.append((part, node))
            }
            return result
        case .mapping:
            throw error(at: node, "expected \(expected) as a list like [a, b], found a map")
        }
    }

    /// The parts of a scalar written as `a, b`; none may be empty.
    func commaSeparated(_ node: YAMLNode, expected: String) throws(ConfigError) -> [String] {
        let whole = try text(node, expected: expected)
        let parts = whole.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let first = part.firstIndex(where: { !$0.isWhitespace }),
                  let last = part.lastIndex(where: { !$0.isWhitespace }) else { return "" }
            return String(part[first...last])
        }
        guard !parts.contains(where: \.isEmpty) else {
            throw error(at: node, "expected \(expected) as a list like [a, b], found '\(whole)' (an empty entry)")
        }
        return parts
    }

    /// A whole number in `range`.
    func integer(_ node: YAMLNode, in range: ClosedRange<Int>, expected: String) throws(ConfigError) -> Int {
        guard let text = node.scalar, !node.isNull, let value = Int(text), range.contains(value) else {
            throw error(at: node, "expected \(expected) (a whole number from \(range.lowerBound) to \(range.upperBound)), found \(node.kindDescription)")
        }
        return value
    }

    /// A finite number greater than zero, written as an int or a float.
    func positiveNumber(_ node: YAMLNode, expected: String) throws(ConfigError) -> Double {
        guard let text = node.scalar, !node.isNull, let value = Double(text), value.isFinite, value > 0 else {
            throw error(at: node, "expected \(expected) (a number of seconds greater than 0, e.g. 5 or 0.5), found \(node.kindDescription)")
        }
        return value
    }

    /// "a, b and c" style listing for messages; "none" when empty.
    static func list(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
