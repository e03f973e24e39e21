/// Reads a `tls:` map: the top-level `{ca, cert, key}`, or a server's or client's `{cert, key}`.
/// Paths are resolved against the yaml file's folder; the files are not opened here (they are
/// read where they are used, which reports a missing file there).
struct TLSSection: Sendable {
    var settings: TLSSettings

    static let keys = [KeySpec("ca"), KeySpec("cert"), KeySpec("key")]
    static let nodeKeys = [KeySpec("cert"), KeySpec("key")]
    static let example = "{ca: certs/ca.pem, cert: certs/admin.pem, key: certs/admin-key.pem}"

    /// The top-level `tls:`. Every key is optional, but `cert` and `key` come together.
    init(network node: YAMLNode, baseDirectory: String, reader: NodeReader) throws(ConfigError) {
        let what = "the top-level tls settings"
        _ = try reader.mapping(node, expected: "\(what) as a map like `tls: \(Self.example)`")
        let fields = try Fields(node, keys: Self.keys, what: what, example: Self.example, reader: reader)
        settings = TLSSettings(
            ca: try Self.path(fields, "ca", expected: "the CA certificate file of the network (e.g. certs/ca.pem)",
                              baseDirectory: baseDirectory, reader: reader),
            cert: try Self.path(fields, "cert", expected: "the operator's certificate file (e.g. certs/admin.pem)",
                                baseDirectory: baseDirectory, reader: reader),
            key: try Self.path(fields, "key", expected: "the private key file of the operator's certificate (e.g. certs/admin-key.pem)",
                               baseDirectory: baseDirectory, reader: reader))
        let together = "tls: cert and key go together: the certificate and its private key"
        if settings.cert != nil, settings.key == nil, let certKey = fields.key("cert") {
            throw reader.error(at: certKey, "\(together); add `key: <file>` next to cert in \(what) (e.g. key: certs/admin-key.pem), or remove cert")
        }
        if settings.key != nil, settings.cert == nil, let keyKey = fields.key("key") {
            throw reader.error(at: keyKey, "\(together); add `cert: <file>` next to key in \(what) (e.g. cert: certs/admin.pem), or remove key")
        }
    }

    /// A server's or client's `tls:` (`kind` is "server" or "client"): its own certificate and
    /// key, both required, as `role` says. A `ca` is refused: the network has one CA, at the top level.
    init(
        node: YAMLNode, kind: String, name: String, role: String, baseDirectory: String, reader: NodeReader
    ) throws(ConfigError) {
        let what = "\(kind) '\(name)'"
        let example = "{cert: certs/\(name).pem, key: certs/\(name)-key.pem}"
        let settingsOf = "the tls settings of \(what)"
        let pairs = try reader.mapping(node, expected: "\(settingsOf) as a map like `tls: \(example)`")
        if let ca = pairs.first(where: { $0.key.scalar == "ca" }) {
            throw reader.error(at: ca.key, "\(what) cannot have a CA of its own: the CA is set once, for the whole network, in the top-level `tls: {ca: certs/ca.pem}`; move ca there from \(settingsOf) (or remove it if the top level has it)")
        }
        let fields = try Fields(node, keys: Self.nodeKeys, what: settingsOf, example: example, reader: reader)
        let cert = try Self.path(fields, "cert", expected: "the certificate file of \(what) (e.g. certs/\(name).pem)",
                                 baseDirectory: baseDirectory, reader: reader)
        let key = try Self.path(fields, "key", expected: "the private key file of \(what) (e.g. certs/\(name)-key.pem)",
                                baseDirectory: baseDirectory, reader: reader)
        guard let cert, let key else {
            let missing = cert == nil ? (key == nil ? "both are missing" : "cert is missing") : "key is missing"
            throw reader.error(at: node, "\(what) \(role), so its tls settings need both cert and key (\(missing)); write tls: \(example)")
        }
        settings = TLSSettings(cert: cert, key: key)
    }

    /// The absolute path under key `name`, if the key is given; its value must be a non-empty text.
    private static func path(
        _ fields: Fields, _ name: String, expected: String, baseDirectory: String, reader: NodeReader
    ) throws(ConfigError) -> String? {
        guard let node = fields[name] else { return nil }
        let written = try reader.text(node, expected: expected)
        return FilePaths.resolve(written, against: baseDirectory)
    }
}
