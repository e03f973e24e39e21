/// A service: which servers provide it, which clients may call it, and its RPCs.
public struct ServiceConfig: Sendable, Equatable {
    public var name: String
    /// Server names, in file order.
    public var providers: [String]
    /// Client names allowed to call the service, in file order.
    public var tenants: [String]
    /// Every overload of every RPC of the service, in the order of the `rpc` section.
    public var rpcs: [RPCConfig]

    public init(name: String, providers: [String], tenants: [String], rpcs: [RPCConfig]) {
        self.name = name
        self.providers = providers
        self.tenants = tenants
        self.rpcs = rpcs
    }

    /// The overloads named `name`.
    public func overloads(of name: String) -> [RPCConfig] {
        rpcs.filter { $0.name == name }
    }
}
