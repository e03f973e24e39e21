import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// Declared clients and their addresses, for identifying a caller by name + source IP.
struct ClientDirectory: Sendable {
    /// Client name → the addresses its declared host stands for (normalized text form).
    let addresses: [String: Set<String>]
    /// Normalized address → client names declared there, in declaration order.
    let namesByAddress: [String: [String]]

    init(clients: [ClientAddress]) {
        var addresses: [String: Set<String>] = [:]
        var namesByAddress: [String: [String]] = [:]
        for client in clients {
            let resolved = HostAddresses.resolve(client.host)
            addresses[client.name] = resolved
            for address in resolved { namesByAddress[address, default: []].append(client.name) }
        }
        self.addresses = addresses
        self.namesByAddress = namesByAddress
    }

    func isDeclared(_ name: String) -> Bool { addresses[name] != nil }

    /// `peer` is normalized (`HostAddresses.normalize`): connections do it once, on accept.
    func address(_ peer: String, matches name: String) -> Bool {
        addresses[name]?.contains(peer) ?? false
    }

    /// Clients declared at this source address (normalized).
    func clients(at peer: String) -> [String] {
        namesByAddress[peer] ?? []
    }

    /// Who a caller at `peer` is (SPEC §4): the client it names, declared and at its declared
    /// address; without a name, the one client declared at its address.
    enum Identity {
        case client(String)
        /// A verified certificate names a declared client, and the request claims another.
        case certified(holder: String, claimed: String)
        /// It names a client nobody declared.
        case undeclared(String)
        /// It names a declared client from another address.
        case elsewhere(String)
        /// No name, and no client at its address, or several.
        case nobody
        case ambiguous([String])
    }

    ///
    /// A verified client certificate whose CN or DNS SAN is a declared client's name is that
    /// client, wherever it connects from (a NAT or a proxy makes addresses meaningless); a
    /// certificate that names no declared client (the operator's) leaves the address rules.
    func identify(claimed name: String?, at peer: String, certificate: [String] = []) -> Identity {
        if let holder = certificate.first(where: isDeclared) {
            guard let name, name != holder else { return .client(holder) }
            return .certified(holder: holder, claimed: name)
        }
        if let name {
            guard isDeclared(name) else { return .undeclared(name) }
            return address(peer, matches: name) ? .client(name) : .elsewhere(name)
        }
        let here = clients(at: peer)
        if here.count == 1 { return .client(here[0]) }
        return here.isEmpty ? .nobody : .ambiguous(here)
    }
}

/// Text forms of IP addresses, comparable across IPv4, IPv6 and IPv4-mapped IPv6.
enum HostAddresses {
    /// `::ffff:127.0.0.1` → `127.0.0.1`; IPv6 in canonical compressed form.
    static func normalize(_ address: String) -> String {
        ThisHost.normalize(address)
    }

    /// The addresses a declared host stands for: itself if it is an IP, `localhost` as
    /// both loopbacks, other names as the resolver answers.
    static func resolve(_ host: String) -> Set<String> {
        let normalized = normalize(host)
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, normalized, &v4) == 1 || inet_pton(AF_INET6, normalized, &v6) == 1 {
            return [normalized]
        }
        if host == "localhost" { return ["127.0.0.1", "::1"] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0 else { return [host] }
        defer { freeaddrinfo(result) }
        var addresses: Set<String> = []
        var entry = result
        while let info = entry {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if info.pointee.ai_family == AF_INET {
                info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
                }
            } else if info.pointee.ai_family == AF_INET6 {
                info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
                }
            }
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !text.isEmpty { addresses.insert(normalize(text)) }
            entry = info.pointee.ai_next
        }
        return addresses.isEmpty ? [host] : addresses
    }
}
