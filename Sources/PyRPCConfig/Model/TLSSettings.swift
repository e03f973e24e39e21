/// The certificate files of a `tls:` map in init.yaml, as absolute paths.
///
/// ```yaml
/// tls: {ca: certs/ca.pem, cert: certs/admin.pem, key: certs/admin-key.pem}   # top level
/// network:
///   servers:
///     - s1: {ip: 127.0.0.1, port: 8443, tls: {cert: certs/s1.pem, key: certs/s1-key.pem}}
/// ```
/// At the top level (`NetworkConfig.tls`) `ca` is the one trust anchor of the network, and
/// `cert`/`key` the operator's certificate; a server's or client's `tls` holds its own `cert`
/// and `key`, never a `ca`, so that no node can trust a CA of its own. Relative paths are
/// resolved against the yaml file's folder when it is loaded, so the settings mean the same
/// whatever the current directory of the process that uses them. The files are not opened
/// while loading: they are read where they are used (the server, the CLI), which reports a
/// missing or unreadable file there, and the files need only exist on the machine that uses them.
public struct TLSSettings: Sendable, Equatable {
    /// The CA certificate (PEM) that signed the servers' and clients' certificates: clients
    /// verify servers with it, and when it is set servers require client certificates that
    /// it signed (mutual TLS). Only the top-level `tls` has one.
    public var ca: String?
    /// The certificate (PEM) this party presents. At the top level it is the operator's
    /// (`deploy`, `ls` and `stats` present it); optional there, always set for a server or
    /// a client. Set exactly when `key` is.
    public var cert: String?
    /// The private key (PEM) of `cert`. Set exactly when `cert` is.
    public var key: String?

    public init(ca: String? = nil, cert: String? = nil, key: String? = nil) {
        self.ca = ca
        self.cert = cert
        self.key = key
    }
}
