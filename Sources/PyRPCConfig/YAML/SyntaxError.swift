import CYAML

/// Builds a `ConfigError` from a libyaml failure: its problem, where it was found, what
/// libyaml was in the middle of, and a hint for the mistakes people make in init.yaml.
enum SyntaxError {
    static func make(from parser: yaml_parser_t, text: [UInt8], file: String) -> ConfigError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"

        let line: Int
        let column: Int
        var message: String
        switch parser.error {
        case YAML_MEMORY_ERROR:
            return ConfigError(file: file, line: 0, column: 0, message: "out of memory while reading YAML")
        case YAML_READER_ERROR:
            // Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark.
            (line, column) = position(ofByte: Int(parser.problem_offset), in: text)
            message = "invalid YAML text: \(problem)"
            if parser.problem_value >= 0 {
                message += " (byte 0x\(String(parser.problem_value, radix: 16)))"
            }
        default:
            line = Int(parser.problem_mark.line) + 1
            column = Int(parser.problem_mark.column) + 1
            message = "invalid YAML: \(problem)"
        }

        var hintLines = [line]
        if let context = parser.context.map({ String(cString: $0) }) {
            let contextLine = Int(parser.context_mark.line) + 1
            let contextColumn = Int(parser.context_mark.column) + 1
            message += " \(context) that starts at line \(contextLine), column \(contextColumn)"
            hintLines.append(contextLine)
        }
        let sourceLines = Set(hintLines).sorted().map { lineText($0, in: text) }
        for hint in SyntaxHints.hints(forLines: sourceLines) {
            message += "; hint: \(hint)"
        }
        return ConfigError(file: file, line: line, column: column, message: message)
    }

    /// 1-based line and column (in characters) of a byte offset.
    static func position(ofByte offset: Int, in text: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in text.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // count characters, not UTF-8 continuation bytes
                column += 1
            }
        }
        return (line, column)
    }

    /// The text of a 1-based line, empty past the end.
    static func lineText(_ number: Int, in text: [UInt8]) -> String {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard number >= 1, number <= lines.count else { return "" }
        return String(decoding: lines[number - 1], as: UTF8.self)
    }
}
