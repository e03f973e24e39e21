/// Messages between a supervisor (`pyrpc serve --processes N`) and its worker processes: typed
/// values, one JSON object per line on the Unix socket each worker inherits. Clients never
/// see them.
///
/// A deploy that reaches any worker is coordinated by the supervisor, all or nothing:
/// `deploy` → every worker `prepare`s (scripts compiled and run, functions checked) and answers
/// `prepared`; the supervisor stores the new state, sends `commit`, and answers the client
/// (through the worker it came from, `answer`) once every worker has `swapped`. One worker
/// failing to prepare — or dying while it does — makes it `abort` everywhere.
public enum ControlMessage: Codable, Sendable, Equatable {
    // Worker → supervisor.
    /// The committed state loaded: it accepts connections once told (`startAccepting`).
    case ready(pid: Int32, generation: Int)
    /// A client's DEPLOY-MANIFEST or DEPLOY-SCRIPTS, already checked for its token and server.
    case deploy(request: Int, firstStep: Bool, manifest: ServerManifest, scripts: [String: String], sizes: [String: Int], peer: String)
    /// A client's DEPLOY-PIECES, checked alike: the supervisor keeps them for the deploy.
    case deployPieces(request: Int, pieces: [ScriptPiece], server: String, peer: String)
    /// `error` nil: built and ready to swap.
    case prepared(round: Int, error: String?)
    /// Swapped in; or, sent instead of `prepared`, the manifest matched the running state.
    case swapped(round: Int, result: DeployResult)
    /// A call is stuck past its deadline, or the worker served its share: it stops accepting
    /// and wants a successor.
    case retiring(reason: String)
    /// A client's STATS-REQ: the supervisor answers for all workers.
    case statsRequest(request: Int)
    case stats(round: Int, snapshot: WorkerStats)
    /// A client connection this worker leaves: the supervisor gives it to another worker.
    case handOver(ConnectionTransfer)
    /// This worker hands its connections over: the supervisor gives it no more (and says so,
    /// `noMoreConnections`, after any it gave before).
    case leaving

    // Supervisor → worker.
    /// The answer to a forwarded `request` (`deploy`, `statsRequest`): the encoded message
    /// for the client (DEPLOY-NEED, DEPLOY-RES, STATS-RES or RPC-EX), as it is to be sent.
    case answer(request: Int, answer: [UInt8])
    case collectStats(round: Int)
    /// Build `manifest`'s generation, reading its scripts from the state directory (the
    /// supervisor wrote them there first), and say `prepared`.
    case prepare(round: Int, manifest: ServerManifest)
    case commit(round: Int)
    case abort(round: Int, reason: String)
    /// Leave: accept nothing new, finish the calls in flight, hand every connection over
    /// (`handOver`), then exit. (SIGTERM stops a worker without handing anything over: the
    /// whole server stops.)
    case retire(reason: String)
    /// A connection another worker left: serve it from where that worker stopped.
    case adopt(ConnectionTransfer)
    /// The answer to `leaving`: every `adopt` for this worker came before it.
    case noMoreConnections
    /// The answer to `ready`: the connections waiting for a worker were given out (`adopt`),
    /// so accept new ones now.
    case startAccepting

    /// The connection a `handOver` or `adopt` carries, if it is one.
    public var transfer: ConnectionTransfer? {
        switch self {
        case .handOver(let transfer), .adopt(let transfer): transfer
        default: nil
        }
    }

    /// The message with its connection's descriptor set (as received beside it).
    public func with(descriptor: Int32) -> ControlMessage {
        switch self {
        case .handOver(var transfer):
            transfer.descriptor = descriptor
            return .handOver(transfer)
        case .adopt(var transfer):
            transfer.descriptor = descriptor
            return .adopt(transfer)
        default:
            return self
        }
    }

    /// The `round` of `collectStats` and `stats` outside any STATS-REQ: the supervisor's
    /// once-a-second look at every worker's counters, and a stopping worker's last report.
    /// The supervisor keeps each worker's latest, so the statistics of a worker that died or
    /// was replaced still count.
    public static let heartbeat = 0
}

/// The body of DEPLOY-RES (SPEC §6).
public struct DeployResult: Codable, Sendable, Equatable {
    public var generation: Int
    public var added: Int
    public var replaced: Int
    public var removed: Int
    public var unchanged: Int
    /// False when the deploy matched the running generation and nothing was swapped.
    public var changed: Bool
    /// Whether the deploy's import path is in effect: "unchanged", "applied" or "at next start".
    public var python: String

    public init(generation: Int, added: Int, replaced: Int, removed: Int, unchanged: Int, changed: Bool, python: String) {
        self.generation = generation
        self.added = added
        self.replaced = replaced
        self.removed = removed
        self.unchanged = unchanged
        self.changed = changed
        self.python = python
    }

    /// The DEPLOY-RES message.
    public var envelope: Envelope {
        Envelope(header: Header.deployResult, value: [
            "generation": .int(generation), "added": .int(added), "replaced": .int(replaced),
            "removed": .int(removed), "unchanged": .int(unchanged), "changed": .bool(changed),
            "python": .string(python),
        ])
    }

    public init(_ envelope: Envelope) throws(RPCError) {
        let reader = FieldReader(.object(envelope.value), context: "DEPLOY-RES")
        generation = try reader.int("generation")
        added = try reader.int("added")
        replaced = try reader.int("replaced")
        removed = try reader.int("removed")
        unchanged = try reader.int("unchanged")
        changed = envelope.value["changed"] != .bool(false)
        python = envelope.value["python"]?.stringValue ?? "unchanged"
    }
}

/// The body of DEPLOY-NEED (SPEC §6): the scripts the server lacks, by hash; how large a
/// message it reads and how many script bytes one deploy may hold (servers before deploys in
/// pieces say neither); and what it kept of scripts an interrupted deploy began to send.
public struct DeployNeed: Sendable, Equatable {
    public var missing: [String]
    public var maxMessageBytes: Int?
    public var maxDeployBytes: Int?
    public var partial: [String: PartialScript]

    public init(missing: [String], maxMessageBytes: Int? = nil, maxDeployBytes: Int? = nil, partial: [String: PartialScript] = [:]) {
        self.missing = missing
        self.maxMessageBytes = maxMessageBytes
        self.maxDeployBytes = maxDeployBytes
        self.partial = partial
    }

    public var envelope: Envelope {
        var value: [String: JSONValue] = ["missing": .array(missing.map(JSONValue.string))]
        if let maxMessageBytes { value["max-message-bytes"] = .int(maxMessageBytes) }
        if let maxDeployBytes { value["max-deploy-bytes"] = .int(maxDeployBytes) }
        if !partial.isEmpty { value["partial"] = .object(partial.mapValues(\.json)) }
        return Envelope(header: Header.deployNeed, value: value)
    }

    public init(_ envelope: Envelope) throws(RPCError) {
        let reader = FieldReader(.object(envelope.value), context: "DEPLOY-NEED")
        missing = try reader.strings("missing")
        maxMessageBytes = envelope.value["max-message-bytes"] == nil ? nil : try reader.int("max-message-bytes")
        maxDeployBytes = envelope.value["max-deploy-bytes"] == nil ? nil : try reader.int("max-deploy-bytes")
        partial = [:]
        if case .object(let members)? = envelope.value["partial"] {
            for (hash, held) in members { partial[hash] = try PartialScript(json: held) }
        }
    }
}

/// One worker process's share of STATS-RES.
public struct WorkerStats: Codable, Sendable, Equatable {
    public var pid: Int32
    public var uptime: Double
    public var residentBytes: Int
    public var generation: Int
    /// Calls this process has served since it started.
    public var calls: Int
    public var rpcs: [RPCStats]

    public init(pid: Int32, uptime: Double, residentBytes: Int, generation: Int, calls: Int, rpcs: [RPCStats]) {
        self.pid = pid
        self.uptime = uptime
        self.residentBytes = residentBytes
        self.generation = generation
        self.calls = calls
        self.rpcs = rpcs
    }
}

/// One overload's counters in one process, with its recent latencies (seconds): percentiles
/// over several processes are computed on all their latencies together, never averaged.
public struct RPCStats: Codable, Sendable, Equatable {
    public var service: String
    public var rpc: String
    public var signature: String
    public var hash: String
    public var calls: Int
    public var errors: Int
    public var timeouts: Int
    public var latencies: [Double]

    public init(service: String, rpc: String, signature: String, hash: String, calls: Int, errors: Int, timeouts: Int, latencies: [Double]) {
        self.service = service
        self.rpc = rpc
        self.signature = signature
        self.hash = hash
        self.calls = calls
        self.errors = errors
        self.timeouts = timeouts
        self.latencies = latencies
    }
}

/// DEPLOY-MANIFEST `{manifest, sizes, token}` and DEPLOY-SCRIPTS `{manifest, scripts, token}`
/// (SPEC §6).
public struct DeployRequest: Sendable, Equatable {
    public var manifest: ServerManifest
    /// Script texts by hash (none in DEPLOY-MANIFEST).
    public var scripts: [String: String]
    /// DEPLOY-MANIFEST: each script's length in UTF-8 bytes, by hash, so that a server can
    /// refuse a deploy over its size limit before any of it is sent (older deployers omit it).
    public var sizes: [String: Int]
    public var token: String?
    /// DEPLOY-MANIFEST: the server may answer which scripts it lacks.
    public var firstStep: Bool

    public init(manifest: ServerManifest, scripts: [String: String] = [:], sizes: [String: Int] = [:], token: String?, firstStep: Bool) {
        self.manifest = manifest
        self.scripts = scripts
        self.sizes = sizes
        self.token = token
        self.firstStep = firstStep
    }

    public var envelope: Envelope {
        var value: [String: JSONValue] = ["manifest": manifest.json]
        if let token { value["token"] = .string(token) }
        if firstStep {
            if !sizes.isEmpty { value["sizes"] = .object(sizes.mapValues(JSONValue.int)) }
        } else {
            value["scripts"] = .object(scripts.mapValues(JSONValue.string))
        }
        return Envelope(header: firstStep ? Header.deployManifest : Header.deployScripts, value: value)
    }

    /// Reads a deploy message (its token is checked by the server, not here).
    public init(_ envelope: Envelope) throws(RPCError) {
        guard let json = envelope.value["manifest"] else { throw RPCError.badRequest("deploy without a 'manifest'") }
        manifest = try ServerManifest(json: json)
        scripts = [:]
        if case .object(let bodies)? = envelope.value["scripts"] {
            for (hash, text) in bodies {
                guard case .string(let body) = text else { throw RPCError.badRequest("script \(hash) must be a string") }
                scripts[hash] = body
            }
        }
        sizes = [:]
        if case .object(let members)? = envelope.value["sizes"] {
            for (hash, size) in members {
                guard case .int(let bytes) = size, bytes >= 0 else { throw RPCError.badRequest("deploy 'sizes' must map hashes to byte counts") }
                sizes[hash] = bytes
            }
        }
        token = envelope.value["token"]?.stringValue
        firstStep = envelope.header == Header.deployManifest
    }
}
