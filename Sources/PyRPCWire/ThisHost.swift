#if canImport(Glibc)
import Glibc
#endif

/// This machine's addresses: a peer at one of them is on this host (servers trust it to
/// deploy), and traffic to one of them never leaves the host (clients may send a deploy
/// token there in plain text).
public enum ThisHost {
    /// Whether `address` (an IP in any text form, or `localhost`) is loopback or one of this
    /// machine's own addresses.
    public static func owns(_ address: String) -> Bool {
        let address = normalize(address)
        return address == "localhost" || address.hasPrefix("127.") || address == "::1" || addresses().contains(address)
    }

    /// `::ffff:127.0.0.1` → `127.0.0.1`; IPv6 in canonical compressed form.
    public static func normalize(_ address: String) -> String {
        var text = address
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text.lowercased().hasPrefix("::ffff:"), text.contains(".") { return String(text.dropFirst(7)) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil {
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return text
    }

    /// This machine's interface addresses now (they come and go; asked rarely), normalized.
    public static func addresses() -> Set<String> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var addresses: Set<String> = []
        var entry = list
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = address.pointee.sa_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
            guard [sa_family_t(AF_INET), sa_family_t(AF_INET6)].contains(address.pointee.sa_family),
                  getnameinfo(address, socklen_t(length), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0
            else { continue }
            // Link-local IPv6 comes back as fe80::1%eth0: the peer text has no zone.
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            addresses.insert(normalize(String(text.split(separator: "%").first ?? "")))
        }
        return addresses
    }
}
