/// The bodies of pyrpc's own answers on the RPC port, LS-RES and STATS-RES, as the server
/// writes them and `pyrpc ls` / `pyrpc stats` read them. (DEPLOY-RES is `DeployResult`.)

/// LS-RES: what a server has deployed.
public struct ListReply: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var service: String
        public var rpc: String
        public var arguments: [String]
        public var returns: [String]
        public var hash: String
        public var path: String
        public var function: String

        public init(service: String, rpc: String, arguments: [String], returns: [String], hash: String, path: String, function: String) {
            self.service = service
            self.rpc = rpc
            self.arguments = arguments
            self.returns = returns
            self.hash = hash
            self.path = path
            self.function = function
        }
    }

    public var server: String
    public var generation: Int
    public var rpcs: [Entry]

    public init(server: String, generation: Int, rpcs: [Entry]) {
        self.server = server
        self.generation = generation
        self.rpcs = rpcs
    }

    public var envelope: Envelope {
        Envelope(header: Header.listResult, value: [
            "server": .string(server), "generation": .int(generation),
            "rpcs": .array(rpcs.map { rpc in
                .object([
                    "service": .string(rpc.service), "rpc": .string(rpc.rpc),
                    "args": .array(rpc.arguments.map(JSONValue.string)), "returns": .array(rpc.returns.map(JSONValue.string)),
                    "hash": .string(rpc.hash), "path": .string(rpc.path), "function": .string(rpc.function),
                ])
            }),
        ])
    }

    public init(_ envelope: Envelope) throws(RPCError) {
        let reader = FieldReader(.object(envelope.value), context: "LS-RES")
        server = try reader.string("server")
        generation = try reader.int("generation")
        rpcs = try reader.array("rpcs").map { (item: JSONValue) throws(RPCError) -> Entry in
            let entry = FieldReader(item, context: "LS-RES rpc")
            return Entry(
                service: try entry.string("service"), rpc: try entry.string("rpc"), arguments: try entry.strings("args"),
                returns: try entry.strings("returns"), hash: try entry.string("hash"), path: try entry.string("path"),
                function: try entry.string("function"))
        }
    }
}

/// STATS-RES: a server's statistics; with worker processes, theirs too.
public struct StatsReply: Sendable, Equatable {
    /// One overload: counters, and percentiles of its recent latencies (milliseconds).
    public struct RPC: Sendable, Equatable {
        public var service: String
        public var rpc: String
        public var signature: String
        public var hash: String
        public var calls: Int
        public var errors: Int
        public var timeouts: Int
        public var p50: Double?
        public var p99: Double?

        public init(service: String, rpc: String, signature: String, hash: String, calls: Int, errors: Int, timeouts: Int, p50: Double?, p99: Double?) {
            self.service = service
            self.rpc = rpc
            self.signature = signature
            self.hash = hash
            self.calls = calls
            self.errors = errors
            self.timeouts = timeouts
            self.p50 = p50
            self.p99 = p99
        }
    }

    /// One worker process, in the place (1 ... --processes) it fills.
    public struct Worker: Sendable, Equatable {
        public var place: Int?
        public var pid: Int
        public var uptime: Double
        public var calls: Int
        public var residentMegabytes: Double
        public var generation: Int
        /// How often its place got a new worker, and why the last time.
        public var restarts: Int
        public var lastExit: String?
        /// Why it is being replaced (it finishes its calls first).
        public var leaving: String?

        public init(place: Int?, pid: Int, uptime: Double, calls: Int, residentMegabytes: Double, generation: Int,
                    restarts: Int, lastExit: String?, leaving: String?) {
            self.place = place
            self.pid = pid
            self.uptime = uptime
            self.calls = calls
            self.residentMegabytes = residentMegabytes
            self.generation = generation
            self.restarts = restarts
            self.lastExit = lastExit
            self.leaving = leaving
        }
    }

    /// What a supervisor adds (`pyrpc serve --processes N`).
    public struct Supervision: Sendable, Equatable {
        public var workers: [Worker]
        public var restarts: Int
        public var crashLoop: Bool
        /// The latest workers that left, newest last: "worker 42 killed by SIGSEGV ..., 3 s ago".
        public var exits: [String]

        public init(workers: [Worker], restarts: Int, crashLoop: Bool, exits: [String]) {
            self.workers = workers
            self.restarts = restarts
            self.crashLoop = crashLoop
            self.exits = exits
        }
    }

    public var server: String
    public var generation: Int
    public var uptime: Double
    public var rpcs: [RPC]
    public var supervision: Supervision?

    public init(server: String, generation: Int, uptime: Double, rpcs: [RPC], supervision: Supervision? = nil) {
        self.server = server
        self.generation = generation
        self.uptime = uptime
        self.rpcs = rpcs
        self.supervision = supervision
    }

    public var envelope: Envelope {
        var value: [String: JSONValue] = [
            "server": .string(server), "generation": .int(generation), "uptime": .float(uptime),
            "rpcs": .array(rpcs.map { rpc in
                var entry: [String: JSONValue] = [
                    "service": .string(rpc.service), "rpc": .string(rpc.rpc), "signature": .string(rpc.signature),
                    "hash": .string(rpc.hash), "calls": .int(rpc.calls), "errors": .int(rpc.errors), "timeouts": .int(rpc.timeouts),
                ]
                if let p50 = rpc.p50 { entry["p50_ms"] = .float(p50) }
                if let p99 = rpc.p99 { entry["p99_ms"] = .float(p99) }
                return .object(entry)
            }),
        ]
        if let supervision {
            value["processes"] = .array(supervision.workers.map { worker in
                var entry: [String: JSONValue] = [
                    "pid": .int(worker.pid), "uptime": .float(worker.uptime), "calls": .int(worker.calls),
                    "rss_mb": .float(worker.residentMegabytes), "generation": .int(worker.generation),
                    "restarts": .int(worker.restarts),
                ]
                if let place = worker.place { entry["worker"] = .int(place) }
                if let last = worker.lastExit { entry["last_exit"] = .string(last) }
                if let leaving = worker.leaving { entry["leaving"] = .string(leaving) }
                return .object(entry)
            })
            value["restarts"] = .int(supervision.restarts)
            value["crash_loop"] = .bool(supervision.crashLoop)
            value["exits"] = .array(supervision.exits.map(JSONValue.string))
        }
        return Envelope(header: Header.statsResult, value: value)
    }

    public init(_ envelope: Envelope) throws(RPCError) {
        let json = JSONValue.object(envelope.value)
        let reader = FieldReader(json, context: "STATS-RES")
        server = try reader.string("server")
        generation = try reader.int("generation")
        uptime = try reader.number("uptime")
        rpcs = try reader.array("rpcs").map { (item: JSONValue) throws(RPCError) -> RPC in
            let entry = FieldReader(item, context: "STATS-RES rpc")
            return RPC(
                service: try entry.string("service"), rpc: try entry.string("rpc"), signature: try entry.string("signature"),
                hash: try entry.string("hash"), calls: try entry.int("calls"), errors: try entry.int("errors"),
                timeouts: try entry.int("timeouts"), p50: item["p50_ms"]?.numberValue, p99: item["p99_ms"]?.numberValue)
        }
        guard json["processes"] != nil else { return }
        let workers = try reader.array("processes").map { (item: JSONValue) throws(RPCError) -> Worker in
            let entry = FieldReader(item, context: "STATS-RES process")
            return Worker(
                place: item["worker"]?.numberValue.map { Int($0) }, pid: try entry.int("pid"), uptime: try entry.number("uptime"),
                calls: try entry.int("calls"), residentMegabytes: try entry.number("rss_mb"), generation: try entry.int("generation"),
                restarts: item["restarts"]?.numberValue.map { Int($0) } ?? 0, lastExit: item["last_exit"]?.stringValue,
                leaving: item["leaving"]?.stringValue)
        }
        supervision = Supervision(
            workers: workers, restarts: try reader.int("restarts"), crashLoop: json["crash_loop"] == .bool(true),
            exits: try reader.strings("exits"))
    }
}

extension ListReply {
    /// What a tenant of `services` sees: their rpcs and signatures, no hashes or paths.
    public func seen(byTenantOf services: Set<String>) -> ListReply {
        var listing = self
        listing.rpcs = rpcs.filter { services.contains($0.service) }.map { entry in
            var entry = entry
            entry.hash = ""
            entry.path = ""
            return entry
        }
        return listing
    }
}

extension StatsReply {
    /// What a tenant of `services` sees: their rpcs' numbers, no hashes or processes.
    public func seen(byTenantOf services: Set<String>) -> StatsReply {
        var statistics = self
        statistics.rpcs = rpcs.filter { services.contains($0.service) }.map { rpc in
            var rpc = rpc
            rpc.hash = ""
            return rpc
        }
        statistics.supervision = nil
        return statistics
    }
}
