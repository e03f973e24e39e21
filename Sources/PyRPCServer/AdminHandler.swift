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
            "rpcs": .array(generation.overloads.map { overload in
                let stats = overload.stats.snapshot()
                var entry: [String: JSONValue] = [
                    "service": .string(overload.service),
                    "rpc": .string(overload.name),
                    "signature": .string(overload.signature.description),
                    "hash": .string(overload.scriptHash),
                    "calls": .int(stats.calls),
                    "errors": .int(stats.errors),
                    "timeouts": .int(stats.timeouts),
                ]
                if let p50 = stats.p50 { entry["p50_ms"] = .float(p50) }
                if let p99 = stats.p99 { entry["p99_ms"] = .float(p99) }
                return .object(entry)
            }),
        ]
    }
}
