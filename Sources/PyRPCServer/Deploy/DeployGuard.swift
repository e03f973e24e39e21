import Foundation
import NIOCore
import PyRPCWire

/// Who may deploy: deploy runs code on the server, so with a token configured the request
/// must carry it; without one, only this machine may (loopback, or one of its own addresses).
/// Declared nodes get no exception: a client host of the network could otherwise push code.
struct DeployGuard: Sendable {
    let token: String?

    func check(token given: String?, peer: String) -> String? {
        if let token {
            guard let given else { return "this server requires a deploy token (set PYRPC_DEPLOY_TOKEN for `pyrpc deploy`)" }
            guard Self.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else { return "wrong deploy token" }
            return nil
        }
        let address = HostAddresses.normalize(peer)
        if address.hasPrefix("127.") || address == "::1" || Self.ownAddresses().contains(address) { return nil }
        return "deploys from \(peer) are refused: without a deploy token only this machine may deploy (give the server a token with PYRPC_DEPLOY_TOKEN or --deploy-token-file, and `pyrpc deploy` the same one)"
    }

    /// What a server listening on `address` says at start when it has no token: others on the
    /// network reach the port but cannot deploy. Nil on loopback.
    static func startWarning(hasToken: Bool, listeningOn address: SocketAddress) -> String? {
        guard !hasToken, let ip = address.ipAddress, !(ip.hasPrefix("127.") || ip == "::1") else { return nil }
        return "listening on \(PyRPCServer.describe(address)) without a deploy token: only this machine may deploy; set PYRPC_DEPLOY_TOKEN or --deploy-token-file to deploy from other hosts"
    }

    /// This machine's addresses now (interfaces come and go; deploys are rare).
    static func ownAddresses() -> Set<String> {
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
            addresses.insert(HostAddresses.normalize(String(text.split(separator: "%").first ?? "")))
        }
        return addresses
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
