import Foundation
import PyRPCWire

/// Who may deploy: deploy runs code on the server, so with a token configured the request
/// must carry it; without one, only loopback and the nodes of the last deployed network may.
struct DeployGuard: Sendable {
    let token: String?

    func check(token given: String?, peer: String, generation: Generation) -> String? {
        if let token {
            guard let given else { return "this server requires a deploy token (set PYRPC_DEPLOY_TOKEN for `pyrpc deploy`)" }
            guard Self.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else { return "wrong deploy token" }
            return nil
        }
        let address = HostAddresses.normalize(peer)
        if address.hasPrefix("127.") || address == "::1" { return nil }
        let nodes = Set(generation.manifest.nodeAddresses.flatMap { HostAddresses.resolve($0) })
        if nodes.contains(address) { return nil }
        return "deploys from \(peer) are refused: without a deploy token only loopback and the nodes of the last deployed network may deploy (configure PYRPC_DEPLOY_TOKEN or --deploy-token-file on the server)"
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
