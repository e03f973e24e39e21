import PyRPCWire

/// pyrpc's own messages on the RPC port: listing (LS-REQ) and statistics (STATS-REQ).
struct AdminHandler: Sendable {
    let serverName: String
    let registry: RPCRegistry
    let startedAt: ContinuousClock.Instant

    func answer(_ envelope: Envelope, from peer: String, core: ServerCore, route: ReplyRoute) -> [UInt8]? {
        switch envelope.header {
        case Header.listRequest:
            return listing().envelope.encoded()
        case Header.statsRequest:
            // A worker process: the supervisor answers for all its workers.
            if let link = core.supervisor.withLockedValue({ $0 }) {
                link.forwardStats(route: route)
                return nil
            }
            return statistics().envelope.encoded()
        case Header.deployManifest, Header.deployScripts:
            return core.deploy.answer(envelope, from: peer, route: route)
        default:
            let known = [Header.rpcRequest, Header.listRequest, Header.statsRequest, Header.deployManifest, Header.deployScripts].joined(separator: ", ")
            core.logger.warning("bad request from \(peer): unknown header '\(envelope.header)'")
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
