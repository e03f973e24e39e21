/// A parsed JSON value. Integers keep their full precision: those that do not fit an `Int`
/// are kept as their decimal text (`bigInt`), because Python's `int` is arbitrary precision.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    /// An integer literal too large for `Int`, as its canonical decimal text (e.g. "-1267650600228229401496703205376").
    case bigInt(String)
    case float(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The numeric value of an `int`, `bigInt` or `float`, as a Double.
    public var numberValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .bigInt(let text): return Double(text)
        case .float(let d): return d
        default: return nil
        }
    }

    /// A timeout's value: a positive, finite number of seconds, or nil for anything else
    /// (`1e999` parses as infinity, which no timer and no stored manifest can hold).
    public var positiveSecondsValue: Double? {
        guard let seconds = numberValue, seconds.isFinite, seconds > 0 else { return nil }
        return seconds
    }

    /// A short name of the JSON kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .bigInt: return "an integer"
        case .float: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

extension JSONValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}
