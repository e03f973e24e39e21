/// Everything init.yaml describes: the servers, the clients, and the services with their RPCs.
///
/// ```swift
/// let network = try ConfigLoader.load(path: "init.yaml")
/// for service in network.services(providedBy: "s1") {
///     for rpc in service.rpcs { print(service.name, rpc.name, rpc.signature, rpc.source) }
/// }
/// ```
public struct NetworkConfig: Sendable, Equatable {
    /// The path of the yaml file as it was given.
    public var file: String
    /// The absolute folder of the yaml file; relative paths (`src`, `python` folders, `tls`
    /// files) are resolved against it.
    public var baseDirectory: String
    /// In file order.
    public var servers: [ServerNode]
    /// In file order.
    public var clients: [ClientNode]
    /// In file order.
    public var services: [ServiceConfig]
    /// The top-level `tls: {ca, cert, key}`: the network's CA and the operator's certificate.
    /// Nil when the file has no top-level `tls` (or an empty one).
    public var tls: TLSSettings?

    public init(
        file: String, baseDirectory: String, servers: [ServerNode], clients: [ClientNode], services: [ServiceConfig],
        tls: TLSSettings? = nil
    ) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.servers = servers
        self.clients = clients
        self.services = services
        self.tls = tls
    }

    /// Whether servers require every client to present a certificate signed by the top-level
    /// `tls: {ca: ...}` (mutual TLS). Setting the CA is what turns it on: the CA clients verify
    /// servers with is the one servers verify clients with, so one key decides both and there
    /// is no separate switch that could disagree with it.
    public var requiresClientCertificates: Bool {
        tls?.ca != nil
    }

    public func server(named name: String) -> ServerNode? {
        servers.first { $0.name == name }
    }

    public func client(named name: String) -> ClientNode? {
        clients.first { $0.name == name }
    }

    public func service(named name: String) -> ServiceConfig? {
        services.first { $0.name == name }
    }

    /// The services whose `providers` include `server`, in file order.
    public func services(providedBy server: String) -> [ServiceConfig] {
        services.filter { $0.providers.contains(server) }
    }

    /// Every RPC of every service, service by service in file order.
    public var allRPCs: [RPCConfig] {
        services.flatMap(\.rpcs)
    }
}
