/// Recognises the YAML mistakes typical of init.yaml files near a syntax error.
enum SyntaxHints {
    /// Hints for the lines around a syntax error, most likely first; empty if none applies.
    static func hints(forLines lines: [String]) -> [String] {
        var hints: [String] = []
        if lines.contains(where: hasUnquotedBracketType) {
            hints.append(#"quote types containing brackets inside [...] lists, e.g. ["List[int]", int]"#)
        }
        if lines.contains(where: hasUnquotedBracketedMetrics) {
            hints.append(#"quote a metrics address in brackets, e.g. metrics: "[::1]:9181" (unquoted, '[' starts a list)"#)
        }
        if lines.contains(where: { $0.contains("::") }) {
            hints.append(#"quote IPv6 addresses inside {...} maps, e.g. {ip: "::1", port: 8181}"#)
        }
        if lines.contains(where: { $0.contains("\t") }) {
            hints.append("indent with spaces; YAML does not allow tabs")
        }
        return hints
    }

    /// True for a line like `metrics: [::1]:9181`: an IPv6 operations address written unquoted.
    static func hasUnquotedBracketedMetrics(_ line: String) -> Bool {
        guard let key = line.range(of: "metrics:") else { return false }
        return line[key.upperBound...].drop(while: { $0 == " " }).first == "["
    }

    /// True for a line like `args: [List[int], int]`: a name directly followed by `[`, which in
    /// a flow list starts a nested list instead of being part of the type name.
    static func hasUnquotedBracketType(_ line: String) -> Bool {
        var previousIsLetter = false
        var inQuotes: Character? = nil
        for character in line {
            if let quote = inQuotes {
                if character == quote { inQuotes = nil }
                previousIsLetter = false
                continue
            }
            switch character {
            case "\"", "'":
                inQuotes = character
            case "#":
                return false
            case "[" where previousIsLetter:
                return true
            default:
                break
            }
            previousIsLetter = character.isLetter
        }
        return false
    }
}
