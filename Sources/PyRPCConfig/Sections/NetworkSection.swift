/// Reads `network:` — the servers and clients.
struct NetworkSection: Sendable {
    var servers: [ServerNode] = []
    var clients: [ClientNode] = []

    static let keys = [KeySpec("servers"), KeySpec("clients")]
    static let nodeKeys = [KeySpec("ip", aliases: ["host"]), KeySpec("port")]
    static let serverKeys = nodeKeys + [KeySpec("python"), KeySpec("tls"), KeySpec("metrics")]
    static let clientKeys = nodeKeys + [KeySpec("tls")]
    static let serverExample = "- s1: {ip: 127.0.0.1, port: 8181}"
    static let clientExample = "- c1: {ip: 127.0.0.1, port: 6000}"

    /// `python` is the top-level `python:` settings, which each server's own keys override.
    init(_ node: YAMLNode, python: PythonSettings, baseDirectory: String, reader: NodeReader) throws(ConfigError) {
        let fields = try Fields(node, keys: Self.keys, what: "network",
                                example: "{servers: [...], clients: [...]}", reader: reader)
        guard let serversNode = fields["servers"] else {
            throw reader.error(at: node, "network needs 'servers', a list like `\(Self.serverExample)`")
        }

        var seen: [String: Int] = [:]               // name -> line, servers and clients separately
        var addresses: [String: (name: String, line: Int)] = [:]
        var listeners: [Listener] = []              // every RPC and metrics address so far
        let serverEntries = try reader.namedEntries(serversNode, kind: "server", example: Self.serverExample)
        guard !serverEntries.isEmpty else {
            throw reader.error(at: serversNode, "network declares no servers; expected at least one, like `\(Self.serverExample)`")
        }
        for entry in serverEntries {
            if let line = seen[entry.name] {
                throw reader.error(at: entry.nameNode, "server '\(entry.name)' is declared twice (first at line \(line))")
            }
            seen[entry.name] = entry.nameNode.line
            let (server, metrics) = try Self.server(entry, python: python, baseDirectory: baseDirectory, reader: reader)
            let address = "\(server.host) port \(server.port)"
            if let other = addresses[address] {
                throw reader.error(at: entry.nameNode, "server '\(entry.name)' uses \(server.host):\(server.port), which server '\(other.name)' (line \(other.line)) already uses; give each server its own port")
            }
            addresses[address] = (entry.name, entry.nameNode.line)
            let rpc = Listener(server: entry.name, line: entry.nameNode.line, machine: server.host,
                               host: server.host, port: server.port, isMetrics: false)
            if let other = listeners.first(where: { $0.isMetrics && $0.conflicts(with: rpc) }) {
                let theirs = other.address == rpc.address ? "" : " (\(other.address))"
                throw reader.error(at: entry.nameNode, "server '\(entry.name)' uses \(rpc.address), which server '\(other.server)' (line \(other.line)) already uses for its metrics\(theirs); give each its own port")
            }
            try metrics?.check(server: entry.name, rpc: rpc, earlier: listeners, reader: reader)
            listeners.append(rpc)
            if let metrics {
                listeners.append(metrics.listener(server: entry.name, line: rpc.line, machine: rpc.machine))
            }
            servers.append(server)
        }

        seen = [:]
        if let clientsNode = fields["clients"] {
            for entry in try reader.namedEntries(clientsNode, kind: "client", example: Self.clientExample) {
                if let line = seen[entry.name] {
                    throw reader.error(at: entry.nameNode, "client '\(entry.name)' is declared twice (first at line \(line))")
                }
                seen[entry.name] = entry.nameNode.line
                clients.append(try Self.client(entry, baseDirectory: baseDirectory, reader: reader))
            }
        }
    }

    private static func server(
        _ entry: NamedEntry, python: PythonSettings, baseDirectory: String, reader: NodeReader
    ) throws(ConfigError) -> (ServerNode, MetricsSection?) {
        let what = "server '\(entry.name)'"
        let fields = try Fields(entry.body, keys: serverKeys, what: what, example: "{ip: 127.0.0.1, port: 8181}", reader: reader)
        let host = try Self.host(fields, what: what, at: entry.nameNode, reader: reader)
        guard let portNode = fields["port"] else {
            throw reader.error(at: entry.nameNode, "\(what) needs 'port', e.g. {ip: \(host), port: 8181}")
        }
        let port = try reader.integer(portNode, in: 1...65535, expected: "the port of \(what)")
        var settings = python
        if let pythonNode = fields["python"], !pythonNode.isNull {
            settings = try PythonSection(pythonNode, what: "the python settings of \(what)", baseDirectory: baseDirectory, reader: reader)
                .settings(over: python)
        }
        var tls: TLSSettings? = nil
        if let tlsNode = fields["tls"], !tlsNode.isNull {
            tls = try TLSSection(node: tlsNode, kind: "server", name: entry.name, role: "speaks TLS with its own certificate",
                                 baseDirectory: baseDirectory, reader: reader).settings
        }
        var metrics: MetricsSection? = nil
        if let metricsNode = fields["metrics"], !metricsNode.isNull {
            metrics = try MetricsSection(metricsNode, server: entry.name, serverHost: host, reader: reader)
        }
        return (ServerNode(name: entry.name, host: host, port: port, python: settings, tls: tls, metrics: metrics?.address), metrics)
    }

    private static func client(_ entry: NamedEntry, baseDirectory: String, reader: NodeReader) throws(ConfigError) -> ClientNode {
        let what = "client '\(entry.name)'"
        let fields = try Fields(entry.body, keys: clientKeys, what: what, example: "{ip: 127.0.0.1, port: 6000}", reader: reader)
        let host = try Self.host(fields, what: what, at: entry.nameNode, reader: reader)
        var port: Int? = nil
        if let portNode = fields["port"], !portNode.isNull {
            port = try reader.integer(portNode, in: 1...65535, expected: "the port of \(what)")
        }
        var tls: TLSSettings? = nil
        if let tlsNode = fields["tls"], !tlsNode.isNull {
            tls = try TLSSection(node: tlsNode, kind: "client", name: entry.name, role: "presents its own certificate when it calls",
                                 baseDirectory: baseDirectory, reader: reader).settings
        }
        return ClientNode(name: entry.name, host: host, port: port, tls: tls)
    }

    /// `ip:` (or `host:`): an address or host name. `[::1]` is accepted for `::1`.
    private static func host(_ fields: Fields, what: String, at nameNode: YAMLNode, reader: NodeReader) throws(ConfigError) -> String {
        guard let node = fields["ip"] else {
            throw reader.error(at: nameNode, "\(what) needs 'ip' (its address, e.g. 127.0.0.1 or \"::1\")")
        }
        var host = try reader.text(node, expected: "the address of \(what) (e.g. 127.0.0.1 or \"::1\")")
        if host.hasPrefix("["), host.hasSuffix("]"), host.count > 2 {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.contains(where: \.isWhitespace) else {
            throw reader.error(at: node, "expected the address of \(what) (e.g. 127.0.0.1 or \"::1\"), found '\(host)'")
        }
        return host
    }
}
