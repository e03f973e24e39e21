/// Where a server's operations port listens: the plain-HTTP port that answers `/metrics`,
/// `/livez` and `/readyz`, from a server's `metrics:` key in init.yaml.
///
/// ```yaml
/// network:
///   servers:
///     - s1: {ip: 127.0.0.1, port: 8181, metrics: 9181}            # 127.0.0.1:9181
///     - s2: {ip: 10.0.0.5, port: 8181, metrics: "0.0.0.0:9100"}   # every address, port 9100
///     - s3: {ip: "::1", port: 8282, metrics: "[::1]:9282"}        # IPv6 in brackets
/// ```
/// A bare port means the server's own `ip` at that port; `HOST:PORT` names the host too (an
/// IPv6 host in brackets). The loader checks that the port is 1...65535, that it is not the
/// server's RPC port on the same address, and that no two servers declare the same address.
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    /// As written, without the brackets of an IPv6 address: an IPv4 or IPv6 address (`0.0.0.0`
    /// or `::` for every address) or a host name.
    public var host: String
    /// 1...65535.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, or `[host]:port` when the host is an IPv6 address: `127.0.0.1:9181`, `[::1]:9181`.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
