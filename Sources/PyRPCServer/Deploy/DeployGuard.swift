import Foundation
import NIOCore
import PyRPCWire

/// Who may deploy: deploy runs code on the server, so with a token configured the request
/// must carry it; without one, only this machine may (loopback, or one of its own addresses).
/// Over mutual TLS, the operator's certificate may too, token or not. Declared nodes get no
/// exception: a client host of the network could otherwise push code.
struct DeployGuard: Sendable {
    let token: String?
    /// The names an operator's verified certificate carries (`TLSFiles.operators`).
    var operators: Set<String> = []

    func check(token given: String?, peer: Peer) -> String? {
        if isOperator(peer) { return nil }
        if let token {
            guard let given else { return "this server requires a deploy token (set PYRPC_DEPLOY_TOKEN for `pyrpc deploy`)" }
            guard Self.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else { return "wrong deploy token" }
            return nil
        }
        if ThisHost.owns(peer.address) { return nil }
        return "deploys from \(peer) are refused: without a deploy token only this machine may deploy (give the server a token with PYRPC_DEPLOY_TOKEN or --deploy-token-file, and `pyrpc deploy` the same one)"
    }

    /// Whether the operator asks (LS-REQ, STATS-REQ): this host, the deploy token, or the
    /// operator's certificate.
    func mayInspect(token given: String?, peer: Peer) -> Bool {
        ThisHost.owns(peer.address) || isOperator(peer) || (token != nil && check(token: given, peer: peer) == nil)
    }

    private func isOperator(_ peer: Peer) -> Bool {
        !operators.isEmpty && peer.certificate.contains(where: operators.contains)
    }

    /// What a server listening on `address` says at start. Without a token: others on the
    /// network reach the port but cannot deploy (unless TLS names an operator). With one, in
    /// plain text: a deploy from another host would carry it readable. Nil on loopback, and
    /// for a token over TLS.
    static func startWarning(hasToken: Bool, encrypted: Bool, listeningOn address: SocketAddress) -> String? {
        guard let ip = address.ipAddress, !(ip.hasPrefix("127.") || ip == "::1") else { return nil }
        if encrypted { return nil }
        if hasToken {
            return "listening on \(PyRPCServer.describe(address)) in plain text with a deploy token: a deploy from another host would carry the token readable by anyone on the path (`pyrpc deploy` refuses to send it there without --insecure-plaintext-token); deploy from this machine"
        }
        return "listening on \(PyRPCServer.describe(address)) without a deploy token: only this machine may deploy; set PYRPC_DEPLOY_TOKEN or --deploy-token-file to deploy from other hosts"
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
