import PyRPCWire

/// pyrpc's own messages on the RPC port: listing (LS-REQ) and statistics (STATS-REQ).
struct AdminHandler: Sendable {
    let serverName: String
    let registry: RPCRegistry
    let startedAt: ContinuousClock.Instant

    func answer(_ envelope: Envelope, from peer: String, core: ServerCore, route: ReplyRoute) -> [UInt8]? {
        switch envelope.header {
        case Header.listRequest:
            return Envelope(header: Header.listResult, value: listing()).encoded()
        case Header.statsRequest:
            // A worker process: the supervisor answers for all its workers.
            if let link = core.supervisor.withLockedValue({ $0 }) {
                link.forwardStats(route: route)
                return nil
            }
            return Envelope(header: Header.statsResult, value: statistics()).encoded()
        case Header.deployManifest, Header.deployScripts:
            return core.deploy.answer(envelope, from: peer, route: route)
        default:
            let known = [Header.rpcRequest, Header.listRequest, Header.statsRequest, Header.deployManifest, Header.deployScripts].joined(separator: ", ")
            core.logger.warning("bad request from \(peer): unknown header '\(envelope.header)'")
            return RPCReply.exception(.badRequest("unknown header '\(envelope.header)'; expected one of \(known)", id: envelope.value["id"]))
        }
    }

    private func listing() -> [String: JSONValue] {
        let generation = registry.current
        return [
            "server": .string(serverName),
            "generation": .int(generation.number),
            "rpcs": .array(generation.overloads.map { overload in
                .object([
                    "service": .string(overload.service),
                    "rpc": .string(overload.name),
                    "args": .array(overload.signature.arguments.map { .string($0.description) }),
                    "returns": .array(overload.signature.returns.map { .string($0.description) }),
                    "hash": .string(overload.scriptHash),
                    "path": .string(overload.scriptPath),
                    "function": .string(overload.function.name),
                ])
            }),
        ]
    }

    private func statistics() -> [String: JSONValue] {
        let generation = registry.current
        return [
            "server": .string(serverName),
            "generation": .int(generation.number),
            "uptime": .float(ServerCore.seconds(since: startedAt)),
            "rpcs": StatsReport.entries([StatsReport.local(generation)]),
        ]
    }
}
