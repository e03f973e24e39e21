/// A key a map may contain: its canonical name and the other spellings accepted for it.
struct KeySpec: Sendable {
    var name: String
    var aliases: [String] = []

    init(_ name: String, aliases: [String] = []) {
        self.name = name
        self.aliases = aliases
    }

    var spellings: [String] { [name] + aliases }
}

/// The checked keys of one map: unknown keys, keys given twice, and two spellings of the same
/// key are all rejected, so every value that is read was meant to be read.
struct Fields: Sendable {
    private var pairs: [String: YAMLNode.Pair] = [:]

    /// The value of a key by canonical name.
    subscript(_ name: String) -> YAMLNode? { pairs[name]?.value }

    /// The key node as written (for its spelling and position).
    func key(_ name: String) -> YAMLNode? { pairs[name]?.key }

    func has(_ name: String) -> Bool { pairs[name] != nil }

    /// Reads `node` as a map whose keys must come from `keys`; `what` names the map in messages
    /// ("service 'calc'"), `example` shows the expected form.
    init(_ node: YAMLNode, keys: [KeySpec], what: String, example: String, reader: NodeReader) throws(ConfigError) {
        let entries = try reader.mapping(node, expected: "the settings of \(what) as a map like \(example)")
        for pair in entries {
            guard let written = pair.key.scalar, !pair.key.isNull else {
                throw reader.error(at: pair.key, "expected a key name in \(what), found \(pair.key.kindDescription)")
            }
            guard let spec = keys.first(where: { $0.spellings.contains(written) }) else {
                var message = "unknown key '\(written)' in \(what)"
                if let guess = Suggestion.closest(to: written, among: keys.flatMap(\.spellings)) {
                    message += "; did you mean '\(guess)'?"
                }
                message += " (valid keys: \(NodeReader.list(keys.map(\.name))))"
                throw reader.error(at: pair.key, message)
            }
            if let earlier = pairs[spec.name] {
                let first = earlier.key.scalar ?? spec.name
                let message = first == written
                    ? "key '\(written)' appears twice in \(what) (first at line \(earlier.key.line)); give it once"
                    : "'\(written)' and '\(first)' (line \(earlier.key.line)) are the same key in \(what); give only one"
                throw reader.error(at: pair.key, message)
            }
            pairs[spec.name] = pair
        }
    }
}
