import Logging
import NIOConcurrencyHelpers
import PyRPCWire

/// pyrpc's own messages on the RPC port: listing (LS-REQ), statistics (STATS-REQ) and
/// deploys (handed to `DeployHandler`).
struct AdminHandler: Sendable {
    let serverName: String
    let registry: RPCRegistry
    let startedAt: ContinuousClock.Instant
    let deploy: DeployHandler
    /// Set in a worker process: its supervisor answers STATS-REQ for all its workers.
    let supervisor: NIOLockedValueBox<SupervisorLink?>
    let logger: Logger

    func answer(_ envelope: Envelope, from peer: Peer, sink: any ReplySink) -> [UInt8]? {
        switch envelope.header {
        case Header.listRequest, Header.statsRequest:
            let access: IntrospectionAccess
            switch IntrospectionAccess.of(envelope, peer: peer, guardian: deploy.service.guardian, generation: registry.current) {
            case .success(let granted): access = granted
            case .failure(let refusal):
                logger.warning("unauthorized \(envelope.header) from \(peer.withCertificate) refused: \(refusal.message)")
                return RPCReply.exception(refusal)
            }
            if envelope.header == Header.listRequest { return access.filter(listing()).envelope.encoded() }
            // A worker process: the supervisor answers for all its workers.
            if let link = supervisor.withLockedValue({ $0 }) {
                link.forwardStats(sink: access == .everything ? sink : TenantStatsSink(sink: sink, access: access))
                return nil
            }
            return access.filter(statistics()).envelope.encoded()
        case Header.deployManifest, Header.deployScripts:
            return deploy.answer(envelope, from: peer, sink: sink)
        case Header.deployPieces:
            return deploy.keep(envelope, from: peer, sink: sink)
        default:
            let known = [Header.rpcRequest, Header.listRequest, Header.statsRequest, Header.deployManifest, Header.deployPieces, Header.deployScripts]
                .joined(separator: ", ")
            logger.warning("bad request from \(peer): unknown header '\(envelope.header)'")
            MetricsBoard.unnamed(.badRequest)
            return RPCReply.exception(.badRequest("unknown header '\(envelope.header)'; expected one of \(known)", id: envelope.value["id"]))
        }
    }

    private func listing() -> ListReply {
        let generation = registry.current
        return ListReply(server: serverName, generation: generation.number, rpcs: generation.overloads.map { overload in
            ListReply.Entry(
                service: overload.service, rpc: overload.name, arguments: overload.argumentSpellings, returns: overload.returnSpellings,
                hash: overload.scriptHash, path: overload.scriptPath, function: overload.function.name)
        })
    }

    private func statistics() -> StatsReply {
        let generation = registry.current
        return StatsReply(
            server: serverName, generation: generation.number, uptime: ServerCore.seconds(since: startedAt),
            rpcs: StatsReport.entries([StatsReport.local(generation)]))
    }
}
