/// One node of a parsed YAML document, with the 1-based position where it starts.
///
/// This is the only shape the config readers see: libyaml's own structures never leave
/// `YAMLDocument.swift`. Mappings keep their pairs in file order.
struct YAMLNode: Sendable {
    enum Content: Sendable {
        /// `plain` is false for quoted and block scalars: a quoted `"~"` is text, not null.
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([Pair])
    }

    struct Pair: Sendable {
        var key: YAMLNode
        var value: YAMLNode
    }

    var content: Content
    var line: Int
    var column: Int

    /// The text of a scalar node, nil for lists and maps.
    var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// An empty value (`key:` with nothing after it) or an explicit `~` / `null`.
    var isNull: Bool {
        guard case .scalar(let text, let plain) = content, plain else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    /// How error messages name this node's kind: "a map", "a list", "'text'", "nothing".
    var kindDescription: String {
        switch content {
        case .mapping: return "a map"
        case .sequence: return "a list"
        case .scalar(let text, _): return isNull ? "nothing" : "'\(text)'"
        }
    }
}
