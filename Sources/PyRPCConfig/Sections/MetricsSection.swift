/// Reads a server's `metrics:` key, the address of its operations port: a port
/// (`metrics: 9181`, the server's own ip at that port) or `HOST:PORT` (`metrics: 0.0.0.0:9181`,
/// `metrics: "[::1]:9181"`, an IPv6 host in brackets).
struct MetricsSection: Sendable {
    var address: MetricsAddress
    /// The value as written, where errors about the address point.
    var node: YAMLNode
    /// Written as a port alone, so examples in messages are written that way too.
    var barePort: Bool

    static let forms = "a port (e.g. metrics: 9181) or HOST:PORT (e.g. metrics: 0.0.0.0:9181)"

    /// `server` is the server's name, `serverHost` its `ip`, the host of a bare port.
    init(_ node: YAMLNode, server: String, serverHost: String, reader: NodeReader) throws(ConfigError) {
        self.node = node
        let what = "the metrics address of server '\(server)'"
        guard let text = node.scalar, !node.isNull, !text.isEmpty else {
            var message = "expected \(what) as \(Self.forms), found \(node.kindDescription)"
            if case .sequence = node.content {
                message += #"; write an IPv6 host in brackets inside quotes, e.g. metrics: "[::1]:9181""#
            }
            throw reader.error(at: node, message)
        }

        // `metrics: 9181`
        if Self.isDigits(Substring(text)) || (text.first == "-" && Self.isDigits(text.dropFirst())) {
            guard let port = Int(text), 1...65535 ~= port else {
                throw reader.error(at: node, "expected the metrics port of server '\(server)' (a whole number from 1 to 65535), found '\(text)'")
            }
            address = MetricsAddress(host: serverHost, port: port)
            barePort = true
            return
        }

        // `metrics: HOST:PORT`, `metrics: "[V6]:PORT"`
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw reader.error(at: node, #"\#(what) ('\#(text)') has no ']' after its IPv6 host; write it as "[HOST]:PORT", e.g. metrics: "[::1]:9181""#)
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.first == ":" else {
                let example = Self.written(MetricsAddress(host: host.isEmpty ? "::1" : String(host), port: 9181))
                throw reader.error(at: node, "\(what) ('\(text)') needs ':PORT' after ']'; write HOST:PORT, e.g. metrics: \(example)")
            }
            portText = rest.dropFirst()
        } else {
            let colons = text.filter { $0 == ":" }.count
            guard colons > 0 else {
                throw reader.error(at: node, "expected \(what) as \(Self.forms), found '\(text)'")
            }
            guard colons == 1 else {
                throw reader.error(at: node, "\(what) ('\(text)') has more than one ':'; write an IPv6 host in brackets inside quotes, e.g. metrics: \(Self.bracketed(text))")
            }
            let colon = text.firstIndex(of: ":")!
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else {
            throw reader.error(at: node, "\(what) ('\(text)') has no host before ':'; write HOST:PORT (e.g. metrics: 0.0.0.0:9181), or the port alone (e.g. metrics: 9181) for the server's own ip")
        }
        guard !host.contains(where: { $0.isWhitespace || $0 == "[" || $0 == "]" }) else {
            throw reader.error(at: node, #"expected the host of \#(what) (e.g. 0.0.0.0, localhost or "[::1]"), found '\#(host)' in '\#(text)'"#)
        }
        let example = Self.written(MetricsAddress(host: String(host), port: 9181))
        guard !portText.isEmpty else {
            throw reader.error(at: node, "\(what) ('\(text)') has no port after ':'; write HOST:PORT with a port from 1 to 65535, e.g. metrics: \(example)")
        }
        guard Self.isDigits(portText), let port = Int(portText), 1...65535 ~= port else {
            throw reader.error(at: node, "expected the port in \(what) (a whole number from 1 to 65535, e.g. metrics: \(example)), found '\(portText)' in '\(text)'")
        }
        address = MetricsAddress(host: String(host), port: port)
        barePort = false
    }

    /// The address as it would be written in init.yaml: `9181` for a bare port, else `host:port`,
    /// quoted when the host is IPv6 (`"[::1]:9181"`).
    func example(port: Int) -> String {
        barePort ? "\(port)" : Self.written(MetricsAddress(host: address.host, port: port))
    }

    static func written(_ address: MetricsAddress) -> String {
        address.host.contains(":") ? "\"\(address.description)\"" : address.description
    }

    /// `"[::1]:9181"` for `::1:9181`; when the text does not end in a port (`fe80::1`), the
    /// whole text in brackets with port 9181.
    private static func bracketed(_ text: String) -> String {
        if let colon = text.lastIndex(of: ":") {
            let host = text[..<colon]
            let port = text[text.index(after: colon)...]
            if host.contains(":"), !host.hasSuffix(":"), isDigits(port), let value = Int(port), 1...65535 ~= value {
                return written(MetricsAddress(host: String(host), port: value))
            }
        }
        return written(MetricsAddress(host: text, port: 9181))
    }

    /// Rejects a metrics address that cannot be bound next to the others: the server's own RPC
    /// address (`rpc`), and the RPC and metrics addresses of the servers before it (`earlier`).
    func check(server: String, rpc: Listener, earlier: [Listener], reader: NodeReader) throws(ConfigError) {
        let mine = listener(server: server, line: rpc.line, machine: rpc.machine)
        let taken = earlier + [rpc]
        if mine.conflicts(with: rpc) {
            let note = address.host == rpc.host ? ""
                : Listener.isWildcard(address.host) ? " (\(address.host) is every address, \(rpc.host) included)"
                : " (the server's ip \(rpc.host) is every address, \(address.host) included)"
            let free = mine.freePort(from: rpc.port + 1000, among: taken)
            throw reader.error(at: node, "server '\(server)': metrics port \(address.port) is the server's RPC port\(note); give the operations port its own, e.g. metrics: \(example(port: free))")
        }
        guard let other = earlier.first(where: mine.conflicts) else { return }
        let theirs = other.address == mine.address ? "" : " (\(other.address))"
        let free = mine.freePort(from: address.port + 1, among: taken)
        if other.isMetrics {
            throw reader.error(at: node, "server '\(server)': metrics address \(mine.address) is already used by server '\(other.server)' (line \(other.line)) for its metrics\(theirs); give each server its own metrics port, e.g. metrics: \(example(port: free))")
        }
        throw reader.error(at: node, "server '\(server)': metrics address \(mine.address) is already used by server '\(other.server)' (line \(other.line)) for its RPC port\(theirs); give the operations port its own, e.g. metrics: \(example(port: free))")
    }

    /// Non-empty and only 0-9 (so no sign, no spaces, no `0x`).
    private static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    func listener(server: String, line: Int, machine: String) -> Listener {
        Listener(server: server, line: line, machine: machine, host: address.host, port: address.port, isMetrics: true)
    }
}

/// An address a server listens on (its RPC port or its metrics port), for finding two that
/// cannot both be bound.
struct Listener: Sendable {
    var server: String
    /// The line of the server's name.
    var line: Int
    /// The server's `ip` as written: servers with the same ip run on the same machine.
    var machine: String
    var host: String
    var port: Int
    var isMetrics: Bool

    var address: String { MetricsAddress(host: host, port: port).description }

    /// Whether both cannot listen at once: the same port on the same machine with overlapping
    /// hosts (the same text, or a wildcard that covers the other), or the same port on the same
    /// host named by the same text that is not one every machine has (`0.0.0.0`, `localhost`...).
    func conflicts(with other: Listener) -> Bool {
        guard port == other.port else { return false }
        if machine == other.machine { return Self.overlap(host, other.host) }
        return host == other.host && !Self.isLocal(host)
    }

    /// The first port from `start` up (wrapping to 1024 past 65535) at which this listener would
    /// conflict with none of `others`.
    func freePort(from start: Int, among others: [Listener]) -> Int {
        var candidate = start
        for _ in 0..<65535 {
            if candidate > 65535 { candidate = 1024 }
            var moved = self
            moved.port = candidate
            if !others.contains(where: moved.conflicts) { return candidate }
            candidate += 1
        }
        return start
    }

    static func isWildcard(_ host: String) -> Bool {
        host == "0.0.0.0" || host == "::"
    }

    /// An address every machine has: a wildcard or a loopback address.
    static func isLocal(_ host: String) -> Bool {
        isWildcard(host) || host.lowercased() == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Whether listening on `a` and on `b` at one port of one machine collide: the same text,
    /// `::` (every address, IPv4 ones too), or `0.0.0.0` with an address that is not IPv6.
    static func overlap(_ a: String, _ b: String) -> Bool {
        if a == b || a == "::" || b == "::" { return true }
        return (a == "0.0.0.0" && !b.contains(":")) || (b == "0.0.0.0" && !a.contains(":"))
    }
}
