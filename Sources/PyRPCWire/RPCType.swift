/// A value type of the RPC type grammar: `int | float | str | bool | List[T]`.
///
/// ```swift
/// let t = try RPCType(parsing: "List[List[float]]")
/// t.description   // "List[List[float]]"
/// ```
/// `list[T]` is accepted as an alias of `List[T]`; the canonical spelling is `List[T]`.
public indirect enum RPCType: Sendable, Hashable, Codable, CustomStringConvertible {
    case int
    case float
    case str
    case bool
    case list(RPCType)

    public var description: String {
        switch self {
        case .int: return "int"
        case .float: return "float"
        case .str: return "str"
        case .bool: return "bool"
        case .list(let element): return "List[\(element)]"
        }
    }

    /// Parses a type written as in init.yaml or a request's `argument-types`.
    public init(parsing text: String) throws(RPCTypeError) {
        var parser = Parser(text: Array(text.utf8), original: text)
        let type = try parser.parseType()
        parser.skipSpaces()
        guard parser.atEnd else {
            throw RPCTypeError(text: text, reason: "unexpected text after the type")
        }
        self = type
    }

    /// Parses every entry of a list of type names, failing on the first that does not parse.
    public static func parseAll(_ texts: [String]) throws(RPCTypeError) -> [RPCType] {
        var types: [RPCType] = []
        types.reserveCapacity(texts.count)
        for text in texts { types.append(try RPCType(parsing: text)) }
        return types
    }

    private struct Parser {
        let text: [UInt8]
        let original: String
        var index = 0

        var atEnd: Bool { index == text.count }

        mutating func skipSpaces() {
            while index < text.count, text[index] == UInt8(ascii: " ") || text[index] == UInt8(ascii: "\t") {
                index += 1
            }
        }

        mutating func parseType() throws(RPCTypeError) -> RPCType {
            skipSpaces()
            let start = index
            while index < text.count, isNameByte(text[index]) { index += 1 }
            let name = String(decoding: text[start..<index], as: UTF8.self)
            switch name {
            case "int": return .int
            case "float": return .float
            case "str": return .str
            case "bool": return .bool
            case "List", "list":
                skipSpaces()
                guard index < text.count, text[index] == UInt8(ascii: "[") else {
                    throw RPCTypeError(text: original, reason: "\(name) needs an element type, as in List[int]")
                }
                index += 1
                let element = try parseType()
                skipSpaces()
                guard index < text.count, text[index] == UInt8(ascii: "]") else {
                    throw RPCTypeError(text: original, reason: "missing ']'")
                }
                index += 1
                return .list(element)
            case "":
                throw RPCTypeError(text: original, reason: "expected a type name")
            default:
                throw RPCTypeError(text: original, reason: "unknown type '\(name)'")
            }
        }

        private func isNameByte(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_")
        }
    }
}

/// A type name that is not in the grammar.
public struct RPCTypeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String

    public var description: String {
        "'\(text)' is not a valid type (\(reason)); valid types are int, float, str, bool and List[T]"
    }
}
