import Logging
import NIOConcurrencyHelpers
import PyRPCPython
import PyRPCWire

/// The server side of `pyrpc deploy` (SPEC §6), in at most two round trips:
///
/// 1. DEPLOY-MANIFEST `{manifest, token}` → DEPLOY-NEED `{missing: [hash...]}`, or, when the
///    server already has every script, the deploy is applied and answered with DEPLOY-RES.
/// 2. DEPLOY-SCRIPTS `{manifest, scripts: {hash: text}, token}` → DEPLOY-RES
///    `{generation, added, replaced, removed, unchanged, changed}` (`changed` false: the
///    manifest matched the running generation, which keeps its number).
/// Refusals and failures are RPC-EX `Deploy Rejected` with what to fix; the running state
/// is then untouched.
struct DeployHandler: Sendable {
    let serverName: String
    let registry: RPCRegistry
    let store: StateStore?
    let guardian: DeployGuard
    let serializer: AsyncSerializer
    let logger: Logger
    /// Set in a worker process: deploys then go to its supervisor, which runs them in every worker.
    let supervisor: NIOLockedValueBox<SupervisorLink?>

    func answer(_ envelope: Envelope, from peer: String, route: ReplyRoute) -> [UInt8]? {
        if let refusal = guardian.check(token: envelope.value["token"]?.stringValue, peer: peer) {
            logger.warning("unauthorized deploy from \(peer) refused: \(refusal)")
            return RPCReply.exception(RPCError(.deployRejected, refusal))
        }
        let request: DeployRequest
        do throws(RPCError) {
            request = try Self.read(envelope, serverName: serverName)
        } catch {
            return RPCReply.exception(error)
        }
        let (manifest, scripts, isFirstStep) = (request.manifest, request.scripts, request.firstStep)
        if let link = supervisor.withLockedValue({ $0 }) {
            link.forward(manifest, scripts: scripts, firstStep: isFirstStep, peer: peer, route: route)
            return nil
        }
        let bodies = scripts
        let handler = self
        Task {
            route.deliver(await handler.serializer.run { await handler.apply(manifest, scripts: bodies, firstStep: isFirstStep, peer: peer) })
        }
        return nil
    }

    /// Reads a deploy message for server `serverName` (its token already checked).
    static func read(_ envelope: Envelope, serverName: String) throws(RPCError) -> DeployRequest {
        let request = try DeployRequest(envelope)
        guard request.manifest.server == serverName else {
            throw RPCError(.deployRejected, "this is server \(serverName), but the manifest is for server \(request.manifest.server); check the ports in init.yaml")
        }
        return request
    }

    static func result(of report: DeployReport) -> DeployResult {
        DeployResult(
            generation: report.generation, added: report.added, replaced: report.replaced, removed: report.removed,
            unchanged: report.unchanged, changed: report.changed, python: describe(report.environmentChange))
    }

    /// DEPLOY-RES `python`: whether the deploy's import path is in effect.
    static func describe(_ change: ImportPathChange) -> String {
        switch change {
        case .unchanged: return "unchanged"
        case .applied: return "applied"
        case .atNextStart: return "at next start"
        }
    }

    private func apply(_ manifest: ServerManifest, scripts: [String: String], firstStep: Bool, peer: String) async -> [UInt8] {
        let store = self.store
        let lookup: (String) -> String? = { hash in store?.script(hash) }
        if firstStep {
            let missing = registry.missingScripts(manifest, stored: lookup)
            if !missing.isEmpty {
                logger.info("deploy from \(peer): \(missing.count) script\(missing.count == 1 ? "" : "s") needed")
                return DeployNeed(missing: missing).envelope.encoded()
            }
        }
        do {
            let report = try await registry.install(manifest, sources: scripts, stored: lookup) { manifest, sources throws(DeployError) in
                guard let store else { return }
                for hash in manifest.scriptHashes {
                    if let text = sources[hash] { try store.storeScript(hash, text) }
                }
                try store.storeManifest(manifest)
            }
            store?.removeScripts(except: manifest.scriptHashes)
            logger.info("deploy from \(peer) \(report.changed ? "applied" : "changed nothing"): generation \(report.generation)")
            return Self.result(of: report).envelope.encoded()
        } catch {
            logger.warning("deploy from \(peer) rejected: \(error.message)")
            return RPCReply.exception(RPCError(.deployRejected, error.message))
        }
    }
}
