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

/// The initializer (SPEC §6): brings a running server to the state init.yaml describes,
/// sending only the scripts it lacks, in at most two round trips whatever the RPC count.
public enum Deployer {
    public static func deploy(_ config: NetworkConfig, to server: ServerNode, token: String?) async throws(DeployFailure) -> DeploySummary {
        let built: (manifest: ServerManifest, sources: [String: String])
        do {
            built = try ManifestBuilder.build(config, server: server.name)
        } catch {
            throw DeployFailure(server: server.name, message: error.description, isNetwork: false)
        }
        let client = RPCClient(host: server.host, port: server.port)
        defer { client.close() }
        var summary = DeploySummary(
            server: server.name, generation: 0, added: 0, replaced: 0, removed: 0, unchanged: 0,
            scriptBytesSent: 0, bytesSent: 0, roundTrips: 0)

        var request = DeployRequest(manifest: built.manifest, token: token, firstStep: true)
        var answer = try await exchange(client, request.envelope, server: server.name, summary: &summary)
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
                summary.scriptBytesSent += text.utf8.count
            }
            answer = try await exchange(client, request.envelope, server: server.name, summary: &summary)
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

    private static func exchange(
        _ client: RPCClient, _ envelope: Envelope, server: String, summary: inout DeploySummary
    ) async throws(DeployFailure) -> Envelope {
        let bytes = envelope.encoded()
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
