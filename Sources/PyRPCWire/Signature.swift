/// The argument and return types of one overload, e.g. `(int, int) -> (int)`.
public struct Signature: Sendable, Hashable, Codable, CustomStringConvertible {
    public var arguments: [RPCType]
    public var returns: [RPCType]

    public init(arguments: [RPCType], returns: [RPCType]) {
        self.arguments = arguments
        self.returns = returns
    }

    public var description: String {
        "(\(arguments.map(\.description).joined(separator: ", "))) -> (\(returns.map(\.description).joined(separator: ", ")))"
    }
}
