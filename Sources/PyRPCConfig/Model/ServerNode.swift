/// A server of the network: `- s1: {ip: 127.0.0.1, port: 8181}` (optionally `metrics: 9181`).
public struct ServerNode: Sendable, Equatable {
    public var name: String
    /// As written: an IPv4 or IPv6 address or a host name.
    public var host: String
    /// 1...65535.
    public var port: Int
    /// The venv and import folders of its scripts: its own `python:` keys over the top-level ones.
    public var python: PythonSettings
    /// Its `tls: {cert, key}`: the certificate it answers with, so it speaks TLS only, on its
    /// port. Nil when it speaks plain text. Whether it also requires client certificates is
    /// the network's choice, `NetworkConfig.requiresClientCertificates`, not the server's.
    public var tls: TLSSettings?
    /// Its `metrics:` key: where its operations port (HTTP `/metrics`, `/livez`, `/readyz`)
    /// listens. `metrics: 9181` is its own `host` at port 9181; `metrics: 0.0.0.0:9181` names
    /// the host too. Nil when it has none.
    public var metrics: MetricsAddress?

    public init(
        name: String, host: String, port: Int, python: PythonSettings = .none, tls: TLSSettings? = nil,
        metrics: MetricsAddress? = nil
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.python = python
        self.tls = tls
        self.metrics = metrics
    }
}
