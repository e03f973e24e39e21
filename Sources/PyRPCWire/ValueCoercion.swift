/// A value that does not fit its declared type; `description` reads like
/// `element 2 of argument 1 is a string "x", expected int`.
public struct ValueMismatch: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: [String]
    public var expected: RPCType
    public var found: String

    public init(path: [String], expected: RPCType, found: String) {
        self.path = path
        self.expected = expected
        self.found = found
    }

    public var description: String {
        "\(path.joined(separator: " of ")) is \(found), expected \(expected)"
    }
}

/// Checks request values against declared types before any Python runs, and brings them
/// to one canonical form per type so the Python conversion never has to guess:
/// `int` → `.int`/`.bigInt`, `float` → `.float`, `str` → `.string`, `bool` → `.bool`,
/// `List[T]` → `.array` of canonical `T`s.
///
/// Course compatibility (SPEC §3): a JSON string is decoded by its declared type, so `"42"`
/// is an `int` and `"[1, 2]"` (or Python's `"['a', 'b']"`) a list. `bool` is never an `int`
/// and an `int` is never a `str`; an `int` is accepted where a `float` is declared.
public enum ValueCoercion {
    public static func coerce(_ value: JSONValue, to type: RPCType, path: String) throws(ValueMismatch) -> JSONValue {
        do {
            return try coerce(value, to: type)
        } catch var mismatch {
            mismatch.path.append(path)
            throw mismatch
        }
    }

    public static func coerce(_ value: JSONValue, to type: RPCType) throws(ValueMismatch) -> JSONValue {
        switch (type, value) {
        case (.int, .int), (.int, .bigInt), (.float, .float), (.str, .string), (.bool, .bool):
            return value
        case (.float, .int(let i)):
            return .float(Double(i))
        case (.float, .bigInt(let text)):
            return .float(Double(text) ?? .nan)
        case (.float, .string(let text)):
            if let special = specialFloat(text) { return .float(special) }
            return try coerce(decodeString(text, as: type), to: type)
        case (.int, .string(let text)), (.bool, .string(let text)), (.list, .string(let text)):
            return try coerce(decodeString(text, as: type), to: type)
        case (.list(let element), .array(let elements)):
            var coerced: [JSONValue] = []
            coerced.reserveCapacity(elements.count)
            for (index, item) in elements.enumerated() {
                do {
                    coerced.append(try coerce(item, to: element))
                } catch var mismatch {
                    mismatch.path.append("element \(index)")
                    throw mismatch
                }
            }
            return .array(coerced)
        default:
            throw ValueMismatch(path: [], expected: type, found: describe(value))
        }
    }

    /// Whether `value` is already in canonical form for `type` (cheap check used on hot paths).
    public static func isCanonical(_ value: JSONValue, for type: RPCType) -> Bool {
        switch (type, value) {
        case (.int, .int), (.int, .bigInt), (.float, .float), (.str, .string), (.bool, .bool): return true
        case (.list(.float), .array(let items)):
            // The bulk case, without a closure call and a value copy per number.
            return items.withUnsafeBufferPointer { values in
                for index in values.indices { guard case .float = values[index] else { return false } }
                return true
            }
        case (.list(let element), .array(let items)): return items.allSatisfy { isCanonical($0, for: element) }
        default: return false
        }
    }

    private static func decodeString(_ text: String, as type: RPCType) throws(ValueMismatch) -> JSONValue {
        let trimmed = text.trimmingSpaces
        guard let decoded = try? JSONParser.parse(trimmed, lenient: true) else {
            throw ValueMismatch(path: [], expected: type, found: describe(.string(text)))
        }
        if case .string = decoded {
            // "\"42\"" must not unwrap twice.
            throw ValueMismatch(path: [], expected: type, found: describe(.string(text)))
        }
        return decoded
    }

    private static func specialFloat(_ text: String) -> Double? {
        switch text.trimmingSpaces.lowercased() {
        case "nan", "+nan", "-nan": return .nan
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return nil
        }
    }

    /// "1 argument sent for 2 argument types": why a request with the wrong number of
    /// arguments is Invalid Arguments, wherever its count is checked.
    public static func countMismatch(sent: Int, expected: Int) -> String {
        "\(sent) argument\(sent == 1 ? "" : "s") sent for \(expected) argument type\(expected == 1 ? "" : "s")"
    }

    /// `a string "abc"`, `an integer 5`, `a list [1,2,…]`: kind plus a short excerpt.
    public static func describe(_ value: JSONValue) -> String {
        var text = value.jsonText
        if text.count > 40 { text = String(text.prefix(37)) + "..." }
        switch value {
        case .null: return "null"
        default: return "\(value.kindName) \(text)"
        }
    }
}

extension String {
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
