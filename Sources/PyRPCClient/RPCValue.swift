import PyRPCWire

/// A Swift type that travels as an RPC value: its RPC type and its wire form.
///
/// `Int`, `Double`, `String`, `Bool` and arrays of these (nested too) conform, so a typed
/// call derives its `argument-types` and `return-types` from Swift types.
public protocol RPCValue: Sendable {
    static var rpcType: RPCType { get }
    var jsonValue: JSONValue { get }
    init(jsonValue: JSONValue) throws(RPCClientError)
}

extension Int: RPCValue {
    public static var rpcType: RPCType { .int }
    public var jsonValue: JSONValue { .int(self) }
    public init(jsonValue: JSONValue) throws(RPCClientError) {
        guard case .int(let value) = jsonValue else { throw .unexpectedValue(jsonValue, expected: .int) }
        self = value
    }
}

extension Double: RPCValue {
    public static var rpcType: RPCType { .float }
    public var jsonValue: JSONValue { .float(self) }
    public init(jsonValue: JSONValue) throws(RPCClientError) {
        switch jsonValue {
        case .float(let value): self = value
        case .int(let value): self = Double(value)
        case .string("nan"): self = .nan
        case .string("inf"): self = .infinity
        case .string("-inf"): self = -.infinity
        default: throw .unexpectedValue(jsonValue, expected: .float)
        }
    }
}

extension String: RPCValue {
    public static var rpcType: RPCType { .str }
    public var jsonValue: JSONValue { .string(self) }
    public init(jsonValue: JSONValue) throws(RPCClientError) {
        guard case .string(let value) = jsonValue else { throw .unexpectedValue(jsonValue, expected: .str) }
        self = value
    }
}

extension Bool: RPCValue {
    public static var rpcType: RPCType { .bool }
    public var jsonValue: JSONValue { .bool(self) }
    public init(jsonValue: JSONValue) throws(RPCClientError) {
        guard case .bool(let value) = jsonValue else { throw .unexpectedValue(jsonValue, expected: .bool) }
        self = value
    }
}

extension Array: RPCValue where Element: RPCValue {
    public static var rpcType: RPCType { .list(Element.rpcType) }
    public var jsonValue: JSONValue { .array(map(\.jsonValue)) }
    public init(jsonValue: JSONValue) throws(RPCClientError) {
        guard case .array(let items) = jsonValue else { throw .unexpectedValue(jsonValue, expected: Self.rpcType) }
        var values: [Element] = []
        values.reserveCapacity(items.count)
        for item in items { values.append(try Element(jsonValue: item)) }
        self = values
    }
}

/// What can go wrong on the client side of a call.
public enum RPCClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an RPC-EX.
    case rpc(RPCError)
    /// Could not connect, or the connection broke.
    case network(String)
    /// The server's answer was not what the protocol says.
    case protocolViolation(String)
    /// A returned value does not fit the Swift type asked for.
    case unexpectedValue(JSONValue, expected: RPCType)
    /// The client's own settings do not work (a TLS file that does not load).
    case configuration(String)

    public var description: String {
        switch self {
        case .rpc(let error): return error.description
        case .network(let message), .configuration(let message): return message
        case .protocolViolation(let message): return "protocol error: \(message)"
        case .unexpectedValue(let value, let expected): return "the server returned \(ValueCoercion.describe(value)), expected \(expected)"
        }
    }
}
