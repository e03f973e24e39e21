import PyRPCConfig
import PyRPCWire

/// What one server's deploy did.
public struct DeploySummary: Sendable, Equatable {
    public var server: String
    public var generation: Int
    public var added: Int
    public var replaced: Int
    public var removed: Int
    public var unchanged: Int
    /// Bytes of script text sent (0 when the server had every script).
    public var scriptBytesSent: Int
    /// Every byte written to the server for this deploy.
    public var bytesSent: Int
    public var roundTrips: Int
    /// Script bytes the server kept from an interrupted deploy, not sent again.
    public var resumedBytes = 0
    /// False when the server already ran exactly this state: nothing was swapped and the
    /// generation kept its number.
    public var changed: Bool = true
    /// Whether the deploy's python environment (venv, path) is in effect: "unchanged",
    /// "applied", or "at next start" (another one is in effect until the server restarts).
    public var python = "unchanged"
}

/// A deploy that did not happen, and why.
public struct DeployFailure: Error, Sendable, CustomStringConvertible {
    public var server: String
    public var message: String
    /// The server could not be reached (as opposed to refusing the deploy).
    public var isNetwork: Bool
    public var description: String { "\(server): \(message)" }
}

/// Script bytes on their way to one server, as a big deploy proceeds.
public struct DeployProgress: Sendable, Equatable {
    public var server: String
    /// Bytes the server holds (sent now, or kept from an interrupted deploy).
    public var bytes: Int
    public var total: Int
}

/// The initializer (SPEC §6): brings a running server to the state init.yaml describes,
/// sending only the scripts it lacks: in two round trips whatever the RPC count when they
/// fit one message, and otherwise in pieces (DEPLOY-PIECES), one round trip per message.
public enum Deployer {
    /// Pieces travel in messages of at most this many bytes, or the server's limit if lower:
    /// a slow link then finishes each well within the server's --message-timeout, and
    /// progress moves often enough to watch.
    static let pieceMessageBytes = 8 << 20

    /// `allowPlaintextToken`: send `token` to a server on another host although the
    /// connection is not encrypted (`--insecure-plaintext-token`); otherwise such a deploy
    /// fails before anything is sent. Over TLS (the server declared with `tls:`, or
    /// `tlsOverrides`), the operator's certificate is presented (`TLSConfiguration.choose`).
    public static func deploy(
        _ config: NetworkConfig, to server: ServerNode, token: String?, allowPlaintextToken: Bool = false,
        tlsOverrides: TLSSettings = TLSSettings(), progress: @Sendable (DeployProgress) -> Void = { _ in }
    ) async throws(DeployFailure) -> DeploySummary {
        let tls: TLSConfiguration?
        do {
            tls = try TLSConfiguration.choose(for: server, in: config, identity: config.tls, overrides: tlsOverrides)
        } catch {
            throw DeployFailure(server: server.name, message: error.description, isNetwork: false)
        }
        if token != nil, tls == nil, !allowPlaintextToken, let refusal = PlaintextToken.refusal(host: server.host, port: server.port) {
            throw DeployFailure(server: server.name, message: refusal, isNetwork: false)
        }
        let built: (manifest: ServerManifest, sources: [String: String])
        do {
            built = try ManifestBuilder.build(config, server: server.name)
        } catch {
            throw DeployFailure(server: server.name, message: error.description, isNetwork: false)
        }
        let client = RPCClient(host: server.host, port: server.port, tls: tls, encoding: .json)  // deploy plans size their messages in JSON
        defer { client.close() }
        var summary = DeploySummary(
            server: server.name, generation: 0, added: 0, replaced: 0, removed: 0, unchanged: 0,
            scriptBytesSent: 0, bytesSent: 0, roundTrips: 0)

        let sizes = built.sources.mapValues(\.utf8.count)
        var request = DeployRequest(manifest: built.manifest, sizes: sizes, token: token, firstStep: true)
        var answer = try await exchange(client, request.envelope.encoded(), server: server.name, summary: &summary)
        if answer.header == Header.deployNeed {
            let need: DeployNeed
            do throws(RPCError) {
                need = try DeployNeed(answer)
            } catch {
                throw DeployFailure(server: server.name, message: "unreadable DEPLOY-NEED: \(error)", isNetwork: false)
            }
            request.firstStep = false
            for hash in need.missing {
                guard let text = built.sources[hash] else {
                    throw DeployFailure(server: server.name, message: "the server asked for an unknown script \(hash.prefix(12))", isNetwork: false)
                }
                request.scripts[hash] = text
            }
            // A server that does not say its limit reads only whole scripts. (Escaping only
            // lengthens text: scripts longer than the limit are not encoded to find out.)
            let limit = need.maxMessageBytes ?? .max
            let textBytes = request.scripts.values.reduce(0) { $0 + $1.utf8.count }
            let whole = textBytes < limit ? request.envelope.encoded() : nil
            let message: [UInt8]
            if let whole, whole.count <= limit {
                summary.scriptBytesSent = textBytes
                message = whole
            } else {
                try await sendPieces(request.scripts, need: need, limit: limit, client: client, token: token, server: server.name, summary: &summary, progress: progress)
                request.scripts = [:]
                message = request.envelope.encoded()
            }
            answer = try await exchange(client, message, server: server.name, summary: &summary)
        }
        guard answer.header == Header.deployResult else {
            throw DeployFailure(server: server.name, message: "unexpected answer \(answer.header)", isNetwork: false)
        }
        let result: DeployResult
        do throws(RPCError) {
            result = try DeployResult(answer)
        } catch {
            throw DeployFailure(server: server.name, message: "unreadable DEPLOY-RES: \(error)", isNetwork: false)
        }
        summary.generation = result.generation
        summary.added = result.added
        summary.replaced = result.replaced
        summary.removed = result.removed
        summary.unchanged = result.unchanged
        summary.changed = result.changed
        summary.python = result.python
        return summary
    }

    /// Sends `scripts` in DEPLOY-PIECES messages under the server's limit, from where the
    /// server's partial copy of each ends when that copy is the start of this text.
    private static func sendPieces(
        _ scripts: [String: String], need: DeployNeed, limit: Int, client: RPCClient, token: String?, server: String,
        summary: inout DeploySummary, progress: @Sendable (DeployProgress) -> Void
    ) async throws(DeployFailure) {
        let planned = need.missing.compactMap { hash in
            scripts[hash].map { DeployPlan.Script(hash: hash, text: $0, from: resumePoint(of: $0, held: need.partial[hash])) }
        }
        let plan: DeployPlan
        do throws(RPCError) {
            plan = try DeployPlan(planned, server: server, token: token, budget: min(limit, pieceMessageBytes))
        } catch {
            throw DeployFailure(server: server, message: error.message, isNetwork: false)
        }
        let total = planned.reduce(0) { $0 + $1.text.utf8.count }
        summary.resumedBytes = planned.reduce(0) { $0 + $1.from }
        var held = summary.resumedBytes
        progress(DeployProgress(server: server, bytes: held, total: total))
        for message in plan.messages {
            let answer = try await exchange(client, message.envelope.encoded(), server: server, summary: &summary)
            guard answer.header == Header.deployReceived else {
                throw DeployFailure(server: server, message: "unexpected answer \(answer.header) to DEPLOY-PIECES", isNetwork: false)
            }
            let bytes = message.pieces.reduce(0) { $0 + $1.text.utf8.count }
            summary.scriptBytesSent += bytes
            held += bytes
            progress(DeployProgress(server: server, bytes: held, total: total))
        }
    }

    /// Where to resume sending `text`: after what the server holds of it, when those bytes
    /// are this text's first (their SHA-256 says so) and end on a character boundary; else 0.
    static func resumePoint(of text: String, held: PartialScript?) -> Int {
        guard let held, held.bytes > 0 else { return 0 }
        let utf8 = Array(text.utf8)
        guard held.bytes < utf8.count, utf8[held.bytes] & 0xC0 != 0x80,
            ScriptHash.sha256(bytes: utf8[..<held.bytes]) == held.sha256
        else { return 0 }
        return held.bytes
    }

    private static func exchange(
        _ client: RPCClient, _ bytes: [UInt8], server: String, summary: inout DeploySummary
    ) async throws(DeployFailure) -> Envelope {
        summary.bytesSent += bytes.count
        summary.roundTrips += 1
        let answer: Envelope
        do {
            answer = try await client.send(bytes)
        } catch {
            if case .network = error { throw DeployFailure(server: server, message: error.description, isNetwork: true) }
            throw DeployFailure(server: server, message: error.description, isNetwork: false)
        }
        if answer.header == Header.rpcException {
            let type = answer.value["exception-type"]?.stringValue ?? "?"
            let message = answer.value["exception-message"]?.stringValue ?? ""
            throw DeployFailure(server: server, message: "\(type): \(message)", isNetwork: false)
        }
        return answer
    }
}
