import PyRPCConfig

extension TLSConfiguration {
    /// How to reach `server` (nil: a `HOST:PORT` init.yaml may not declare): over TLS when
    /// init.yaml declares it with `tls:` or `overrides` (the `--tls-*` flags) name a file; nil
    /// means plain TCP. The CA is the flag's or init.yaml's top-level `tls: {ca}` (without
    /// either, the system's CAs); the certificate presented is the flag's or `identity`'s: the
    /// top-level one (the operator's) for deploy, ls and stats, the client's own for a call.
    public static func choose(
        for server: ServerNode?, in network: NetworkConfig?, identity: TLSSettings?, overrides: TLSSettings = TLSSettings()
    ) throws(RPCClientError) -> TLSConfiguration? {
        let asked = overrides.ca != nil || overrides.cert != nil || overrides.key != nil
        guard server?.tls != nil || asked else { return nil }
        let certificate = overrides.cert ?? (overrides.key == nil ? identity?.cert : nil)
        let key = overrides.key ?? (overrides.cert == nil ? identity?.key : nil)
        return try TLSConfiguration(
            ca: (overrides.ca ?? network?.tls?.ca).map(PEM.file), certificate: certificate.map(PEM.file), key: key.map(PEM.file))
    }
}
