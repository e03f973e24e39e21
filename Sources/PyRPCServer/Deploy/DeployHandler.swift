import NIOConcurrencyHelpers
import PyRPCWire

/// The server side of `pyrpc deploy` (SPEC §6), in two round trips when the scripts fit one
/// message:
///
/// 1. DEPLOY-MANIFEST `{manifest, sizes, token}` → DEPLOY-NEED `{missing: [hash...],
///    max-message-bytes, max-deploy-bytes, partial}`, or, when the server already has every
///    script, the deploy is applied and answered with DEPLOY-RES.
/// 2. DEPLOY-SCRIPTS `{manifest, scripts: {hash: text}, token}` → DEPLOY-RES
///    `{generation, added, replaced, removed, unchanged, changed}` (`changed` false: the
///    manifest matched the running generation, which keeps its number).
///
/// Scripts that do not fit one message go first in DEPLOY-PIECES, one round trip each
/// (answered DEPLOY-RECEIVED), and DEPLOY-SCRIPTS then carries only the manifest.
/// Refusals and failures are RPC-EX `Deploy Rejected` with what to fix; the running state
/// is then untouched.
struct DeployHandler: Sendable {
    let service: DeployService
    let registry: RPCRegistry
    let serializer: AsyncSerializer
    /// Set in a worker process: deploys then go to its supervisor, which runs them in every worker.
    let supervisor: NIOLockedValueBox<SupervisorLink?>

    func answer(_ envelope: Envelope, from caller: Peer, sink: any ReplySink) -> [UInt8]? {
        let peer = caller.address
        let request: DeployRequest
        switch service.admit(envelope, from: caller) {
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

    /// DEPLOY-PIECES: kept where deploys are carried out (the supervisor, if any).
    func keep(_ envelope: Envelope, from caller: Peer, sink: any ReplySink) -> [UInt8]? {
        let peer = caller.address
        let pieces: DeployPieces
        switch service.admitPieces(envelope, from: caller) {
        case .success(let admitted): pieces = admitted
        case .failure(let error): return RPCReply.exception(error)
        }
        if let link = supervisor.withLockedValue({ $0 }) {
            link.forward(pieces, peer: peer, sink: sink)
            return nil
        }
        // Off the I/O loop: a script's last piece has its SHA-256 checked over all of it.
        let service = self.service
        Task { sink.deliver(service.receive(pieces, peer: peer)) }
        return nil
    }

    private func apply(_ request: DeployRequest, peer: String) async -> [UInt8] {
        let manifest = request.manifest
        if request.firstStep {
            if let refusal = service.oversize(manifest, sizes: request.sizes, peer: peer) { return refusal.answer }
            let missing = registry.missingScripts(manifest, stored: service.held)
            if !missing.isEmpty { return service.need(missing, peer: peer).answer }
        } else if let over = service.oversize(request.scripts.values.reduce(0) { $0 + $1.utf8.count }) {
            return service.rejected(over, peer: peer)
        }
        do {
            let report = try await service.install(manifest, sources: request.scripts, into: registry)
            return service.applied(DeployService.result(of: report), peer: peer)
        } catch {
            return service.rejected(error.message, peer: peer)
        }
    }
}
