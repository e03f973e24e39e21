/// One named item of a section: `- s1: {ip: ..., port: ...}`, `s1: {...}` in a map, or
/// `- {name: s1, ip: ..., port: ...}`.
struct NamedEntry: Sendable {
    var name: String
    /// The node that spells the name; errors about the whole entry point here.
    var nameNode: YAMLNode
    /// The entry's settings (a map, or `nothing` when none were written).
    var body: YAMLNode
}

extension NodeReader {
    /// Reads a section written either as a list of single-key maps (the course layout) or as a
    /// map from name to settings. `kind` is "server", "service"...; `example` shows one entry.
    func namedEntries(_ node: YAMLNode, kind: String, example: String) throws(ConfigError) -> [NamedEntry] {
        switch node.content {
        case .mapping(let pairs):
            var entries: [NamedEntry] = []
            for pair in pairs {
                let name = try text(pair.key, expected: "a \(kind) name")
                entries.append(NamedEntry(name: name, nameNode: pair.key, body: pair.value))
            }
            return entries
        case .sequence(let items):
            var entries: [NamedEntry] = []
            for item in items { entries.append(try namedEntry(item, kind: kind, example: example)) }
            return entries
        case .scalar:
            if node.isNull { return [] }
            throw error(at: node, "expected a list of \(kind)s like `\(example)`, found \(node.kindDescription)")
        }
    }

    private func namedEntry(_ item: YAMLNode, kind: String, example: String) throws(ConfigError) -> NamedEntry {
        guard case .mapping(let pairs) = item.content, !pairs.isEmpty else {
            throw error(at: item, "expected a \(kind) entry like `\(example)`, found \(item.kindDescription)")
        }
        // `- s1: {...}` (or `- s1:` with the settings indented below it).
        if pairs.count == 1, pairs[0].value.isNull || isMapping(pairs[0].value) {
            let name = try text(pairs[0].key, expected: "a \(kind) name")
            return NamedEntry(name: name, nameNode: pairs[0].key, body: pairs[0].value)
        }
        // `- {name: s1, ...}`
        if let index = pairs.firstIndex(where: { $0.key.scalar == "name" }) {
            let name = try text(pairs[index].value, expected: "a \(kind) name")
            var rest = pairs
            rest.remove(at: index)
            let body = YAMLNode(content: .mapping(rest), line: item.line, column: item.column)
            return NamedEntry(name: name, nameNode: pairs[index].value, body: body)
        }
        // The classic mistake: settings written at the same indentation as the name.
        let keys = pairs.compactMap(\.key.scalar)
        if pairs.count > 1 {
            if pairs[0].value.isNull, let first = keys.first {
                throw error(at: item, "\(kind) entry has several keys (\(NodeReader.list(keys))); indent the settings under '\(first):' or write `\(example)`")
            }
            throw error(at: item, "a \(kind) entry holds one \(kind), found keys \(NodeReader.list(keys)); start each \(kind) with its own '- ', like `\(example)`")
        }
        throw error(at: pairs[0].value, "expected the settings of \(kind) '\(keys.first ?? "?")' as a map, like `\(example)`, found \(pairs[0].value.kindDescription)")
    }

    private func isMapping(_ node: YAMLNode) -> Bool {
        if case .mapping = node.content { return true }
        return false
    }
}
