import PyRPCWire

/// Who may see what of a server through LS-REQ and STATS-REQ. The listing names every
/// service, signature and script hash, and the statistics every worker's pid and memory: a
/// map for whoever wants to attack the server. So the operator (this host, or the deploy
/// token: whoever may deploy) sees everything; a declared client, identified as its calls
/// are, sees the services it is a tenant of, without hashes, paths or processes; anyone else
/// gets `Client Not Registered`.
enum IntrospectionAccess: Sendable, Equatable {
    case everything
    case tenant(String, services: Set<String>)

    static func of(_ envelope: Envelope, peer: Peer, guardian: DeployGuard, generation: Generation) -> Result<Self, RPCError> {
        if guardian.mayInspect(token: envelope.value["token"]?.stringValue, peer: peer) { return .success(.everything) }
        let what = envelope.header == Header.statsRequest ? "statistics" : "the list of rpcs"
        let name: String
        switch generation.clients.identify(claimed: envelope.value["client"]?.stringValue, at: peer.address, certificate: peer.certificate) {
        case .client(let identified):
            name = identified
        case .certified(let holder, let claimed):
            return .failure(RPCError(.clientNotRegistered, "the certificate of client '\(holder)' cannot ask as client '\(claimed)'"))
        case .undeclared(let declared), .elsewhere(let declared):
            return .failure(RPCError(.clientNotRegistered, "client '\(declared)' is not registered at \(peer), so it may not see \(what) (declare it under network.clients in init.yaml)"))
        case .nobody:
            return .failure(RPCError(.clientNotRegistered, "no registered client has address \(peer), so it may not see \(what); only this host, the deploy token or a declared client may"))
        case .ambiguous(let here):
            return .failure(RPCError(.clientNotRegistered, "clients \(here.joined(separator: ", ")) share address \(peer): send 'client' to say which one asks"))
        }
        let services = Set(generation.services.values.filter { $0.tenants.contains(name) }.map(\.name))
        return .success(.tenant(name, services: services))
    }

    func filter(_ listing: ListReply) -> ListReply {
        guard case .tenant(_, let services) = self else { return listing }
        return listing.seen(byTenantOf: services)
    }

    func filter(_ statistics: StatsReply) -> StatsReply {
        guard case .tenant(_, let services) = self else { return statistics }
        return statistics.seen(byTenantOf: services)
    }
}

/// Delivers a STATS-RES cut to what a tenant may see (the supervisor answers for all workers
/// and knows nothing of who asked).
struct TenantStatsSink: ReplySink {
    let sink: any ReplySink
    let access: IntrospectionAccess

    func deliver(_ reply: [UInt8]) {
        guard let message = try? JSONParser.parse(Array(reply.dropLast())), let envelope = try? Envelope(message: message),
            envelope.header == Header.statsResult, let statistics = try? StatsReply(envelope)
        else { return sink.deliver(reply) }
        sink.deliver(access.filter(statistics).envelope.encoded())
    }
}
