/// Reads `service:` — each service's providers, tenants and the RPC names it lists.
struct ServiceSection: Sendable {
    /// A service as read, before its RPC definitions are attached.
    struct Draft: Sendable {
        var name: String
        var nameNode: YAMLNode
        var providers: [String]
        var tenants: [String]
        /// The names under the service's `rpcs:` key, with their nodes for error positions.
        var rpcNames: [(name: String, node: YAMLNode)]
    }

    var services: [Draft] = []

    static let keys = [KeySpec("providers"), KeySpec("tenants"), KeySpec("rpcs", aliases: ["rpc"])]
    static let example = "- calc: {providers: [s1], tenants: [c1], rpcs: [add]}"

    init(_ node: YAMLNode, network: NetworkSection, reader: NodeReader) throws(ConfigError) {
        let serverNames = network.servers.map(\.name)
        let clientNames = network.clients.map(\.name)
        var seen: [String: Int] = [:]
        for entry in try reader.namedEntries(node, kind: "service", example: Self.example) {
            if let line = seen[entry.name] {
                throw reader.error(at: entry.nameNode, "service '\(entry.name)' is declared twice (first at line \(line))")
            }
            seen[entry.name] = entry.nameNode.line
            let what = "service '\(entry.name)'"
            let fields = try Fields(entry.body, keys: Self.keys, what: what,
                                    example: "{providers: [s1], tenants: [c1], rpcs: [add]}", reader: reader)

            guard let providersNode = fields["providers"] else {
                throw reader.error(at: entry.nameNode, "\(what) needs 'providers' (the servers that run it, e.g. providers: [\(serverNames.first ?? "s1")])")
            }
            let providers = try Self.names(
                providersNode, role: "providers", of: entry.name, kind: "server", declared: serverNames, reader: reader)
            guard !providers.isEmpty else {
                throw reader.error(at: providersNode, "\(what) has no providers; expected at least one of the declared servers (\(NodeReader.list(serverNames)))")
            }

            guard let tenantsNode = fields["tenants"] else {
                throw reader.error(at: entry.nameNode, "\(what) needs 'tenants' (the clients allowed to call it, e.g. tenants: [\(clientNames.first ?? "c1")]; write tenants: [] for none)")
            }
            let tenants = try Self.names(
                tenantsNode, role: "tenants", of: entry.name, kind: "client", declared: clientNames, reader: reader)

            var rpcNames: [(name: String, node: YAMLNode)] = []
            if let rpcsNode = fields["rpcs"] {
                rpcNames = try reader.textList(rpcsNode, expected: "the rpc names of \(what)").map { ($0.text, $0.node) }
            }
            services.append(Draft(name: entry.name, nameNode: entry.nameNode, providers: providers, tenants: tenants, rpcNames: rpcNames))
        }
    }

    /// A list of declared server or client names; repeats are dropped, unknown names rejected.
    private static func names(
        _ node: YAMLNode, role: String, of service: String, kind: String, declared: [String], reader: NodeReader
    ) throws(ConfigError) -> [String] {
        var result: [String] = []
        for (name, itemNode) in try reader.textList(node, expected: "the \(role) of service '\(service)'") {
            guard declared.contains(name) else {
                throw reader.error(at: itemNode, "unknown \(kind) '\(name)' in \(role) of service '\(service)'; declared \(kind)s are \(NodeReader.list(declared))")
            }
            if !result.contains(name) { result.append(name) }
        }
        return result
    }
}
