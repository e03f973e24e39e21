/// A client of the network: `- c1: {ip: 127.0.0.1, port: 6000}`.
///
/// Services name their clients in `tenants`; a request without a `client` field is matched to
/// a client by its source address. The port is recorded but not enforced.
public struct ClientNode: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: Int?
    /// Its `tls: {cert, key}`: the certificate a call made as this client presents
    /// (`pyrpc call --as c1`), which servers check against the top-level CA. Nil when it has none.
    public var tls: TLSSettings?

    public init(name: String, host: String, port: Int? = nil, tls: TLSSettings? = nil) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
    }
}
