/// Lets `args: [List[int], int]` load, as course handouts write it.
///
/// In a YAML flow list `[` always opens a nested list, so that line is a syntax error. When a
/// file fails to parse, the loader retries with the brackets of every `Name[...]` replaced by
/// private-use placeholder characters, which YAML reads as part of a plain scalar, and turns
/// them back into brackets in the scalars it reads. One character replaces one character, so
/// every line:column stays where the user sees it.
enum BracketTypes {
    static let open: Character = "\u{E000}"
    static let close: Character = "\u{E001}"
    private static let openBytes = Array(String(open).utf8)
    private static let closeBytes = Array(String(close).utf8)

    /// `bytes` with every `Name[...]` bracket replaced, or nil when there is nothing to replace.
    /// Quoted text and comments are left alone; a `[` without its `]` on the same line too.
    static func protect(_ bytes: [UInt8]) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 16)
        var changed = false
        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.count
            let line = Array(bytes[lineStart..<lineEnd])
            let replaced = protectLine(line)
            changed = changed || replaced != nil
            result += replaced ?? line
            lineStart = lineEnd
        }
        return changed ? result : nil
    }

    /// The scalar text with placeholders turned back into brackets.
    static func restore(_ text: String) -> String {
        guard text.contains(open) || text.contains(close) else { return text }
        return String(text.map { $0 == open ? "[" : $0 == close ? "]" : $0 })
    }

    private static func protectLine(_ line: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var changed = false
        var quote: UInt8? = nil
        var index = 0
        while index < line.count {
            let byte = line[index]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: "#"), index == 0 || line[index - 1] == UInt8(ascii: " ") {
                output += line[index...]
                break
            } else if byte == UInt8(ascii: "["), index > 0, isNameByte(line[index - 1]),
                      let end = matchingBracket(in: line, from: index) {
                for inner in line[index...end] {
                    switch inner {
                    case UInt8(ascii: "["): output += openBytes
                    case UInt8(ascii: "]"): output += closeBytes
                    default: output.append(inner)
                    }
                }
                changed = true
                index = end + 1
                continue
            }
            output.append(byte)
            index += 1
        }
        return changed ? output : nil
    }

    private static func matchingBracket(in line: [UInt8], from start: Int) -> Int? {
        var depth = 0
        for index in start..<line.count {
            switch line[index] {
            case UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return index }
            case UInt8(ascii: ","), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\n"), UInt8(ascii: "#"):
                return nil   // not a type name: leave the line to the YAML parser
            default: break
            }
        }
        return nil
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    }
}
