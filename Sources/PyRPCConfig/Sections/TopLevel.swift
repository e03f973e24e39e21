/// Reads the whole document: `python`, `tls`, `network`, `service(s)` and `rpc(s)`, in that
/// order, and assembles the typed `NetworkConfig`.
enum TopLevel {
    static let keys = [
        KeySpec("network"),
        KeySpec("service", aliases: ["services"]),
        KeySpec("rpc", aliases: ["rpcs"]),
        KeySpec("python"),
        KeySpec("tls"),
    ]
    static let expected = "a map with 'network', 'service' and 'rpc' sections"

    static func read(_ root: YAMLNode?, file: String, baseDirectory: String) throws(ConfigError) -> NetworkConfig {
        let reader = NodeReader(file: file)
        guard let root else {
            throw ConfigError(file: file, line: 1, column: 1, message: "the file is empty; expected \(expected)")
        }
        guard case .mapping = root.content else {
            throw reader.error(at: root, "expected \(expected) at the top level, found \(root.kindDescription)")
        }
        let fields = try Fields(root, keys: keys, what: "the top level", example: "network: ...", reader: reader)

        guard let networkNode = fields["network"] else {
            throw reader.error(at: root, "missing the 'network' section (the servers and clients); expected \(expected)")
        }
        var python = PythonSettings.none
        if let pythonNode = fields["python"], !pythonNode.isNull {
            python = try PythonSection(pythonNode, what: "the top-level python settings", baseDirectory: baseDirectory, reader: reader)
                .settings(over: .none)
        }
        var tls: TLSSettings? = nil
        if let tlsNode = fields["tls"], !tlsNode.isNull {
            let settings = try TLSSection(network: tlsNode, baseDirectory: baseDirectory, reader: reader).settings
            tls = settings == TLSSettings() ? nil : settings
        }
        let network = try NetworkSection(networkNode, python: python, baseDirectory: baseDirectory, reader: reader)

        guard let serviceNode = fields["service"] else {
            throw reader.error(at: root, "missing the 'service' section (which servers provide what, and to whom); expected \(expected)")
        }
        let services = try ServiceSection(serviceNode, network: network, reader: reader)

        let rpcs = try RPCSection(fields["rpc"], services: services, baseDirectory: baseDirectory, reader: reader)

        return NetworkConfig(
            file: file,
            baseDirectory: baseDirectory,
            servers: network.servers,
            clients: network.clients,
            services: services.services.map { draft in
                ServiceConfig(
                    name: draft.name, providers: draft.providers, tenants: draft.tenants,
                    rpcs: rpcs.rpcs.filter { $0.service == draft.name })
            },
            tls: tls)
    }
}
