import ArgumentParser
import PyRPCConfig

/// TLS for commands that talk to servers (`call`, `ls`, `stats`, `deploy`). A server init.yaml
/// declares with `tls:` is reached over TLS with init.yaml's files; these flags replace them,
/// and with any of them a `--to HOST:PORT` server is reached over TLS too.
struct TLSClientFlags: ParsableArguments {
    @Option(help: "The CA certificate (PEM) that signed the servers' certificates (default: init.yaml's `tls: {ca}`, else the system's CAs).")
    var tlsCa: String?

    @Option(help: "The certificate (PEM) to present to servers that require one (default: init.yaml's: the operator's top-level `tls: {cert}`, or for `call` the calling client's).")
    var tlsCert: String?

    @Option(help: "The private key (PEM) of --tls-cert.")
    var tlsKey: String?

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: the certificate and its private key")
        }
    }

    var overrides: TLSSettings {
        TLSSettings(ca: tlsCa.map(absolutePath), cert: tlsCert.map(absolutePath), key: tlsKey.map(absolutePath))
    }
}

extension NetworkConfig {
    /// The server declared at `host:port`, if any (for `--to`).
    func server(at host: String, _ port: Int) -> ServerNode? {
        servers.first { $0.host == host && $0.port == port }
    }
}
