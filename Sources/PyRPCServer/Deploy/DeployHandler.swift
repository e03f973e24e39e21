import NIOConcurrencyHelpers
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
    let service: DeployService
    let registry: RPCRegistry
    let serializer: AsyncSerializer
    /// Set in a worker process: deploys then go to its supervisor, which runs them in every worker.
    let supervisor: NIOLockedValueBox<SupervisorLink?>

    func answer(_ envelope: Envelope, from peer: String, sink: any ReplySink) -> [UInt8]? {
        let request: DeployRequest
        switch service.admit(envelope, from: peer) {
        case .success(let admitted): request = admitted
        case .failure(let error): return RPCReply.exception(error)
        }
        if let link = supervisor.withLockedValue({ $0 }) {
            link.forward(request, peer: peer, sink: sink)
            return nil
        }
        let handler = self
        Task {
            sink.deliver(await handler.serializer.run { await handler.apply(request, peer: peer) })
        }
        return nil
    }

    private func apply(_ request: DeployRequest, peer: String) async -> [UInt8] {
        let manifest = request.manifest
        if request.firstStep {
            let missing = registry.missingScripts(manifest, stored: { service.store?.script($0) })
            if !missing.isEmpty { return service.need(missing, peer: peer).answer }
        }
        do {
            let report = try await service.install(manifest, sources: request.scripts, into: registry)
            return service.applied(DeployService.result(of: report), peer: peer)
        } catch {
            return service.rejected(error.message, peer: peer)
        }
    }
}
