import Dispatch
import Logging
import NIOCore
import NIOConcurrencyHelpers
import PyRPCPython
import PyRPCTLS
import PyRPCWire
import Synchronization

/// Everything a connection needs to answer messages: the parts of one server, shared by
/// all its connections. The path of a request: frame → parse → dispatch → Python → reply.
final class ServerCore: Sendable {
    let name: String
    let options: ServerOptions
    let role: ServerRole
    let logger: Logger
    /// Whether the logger is at debug level, so takes a line per successful call and per
    /// connection: read once, not for each (the level is behind the handler's existential).
    let logsDebug: Bool
    let pool: PythonWorkerPool
    let registry: RPCRegistry
    let dispatcher: Dispatcher
    let startedAt = ContinuousClock.now
    let admin: AdminHandler
    let deployService: DeployService
    let store: StateStore?
    /// The TLS settings new connections get; nil: plain TCP.
    let tls: TLSContext?
    /// Deploys run one at a time.
    let deploySerializer = AsyncSerializer()
    /// The server's I/O loops, watched by the pool's monitor (see `Leadership`).
    let loops = LoopList()
    let limits: ConnectionLimits
    /// `--max-requests` with up to 10% added at random, so that workers started together do
    /// not all recycle at once; the call that reaches it signals `recycleDue` (`WorkerWatchdog`).
    let recycleAfter: Int?
    let recycleDue = DispatchSemaphore(value: 0)
    /// In a worker process (`pyrpc serve --processes N`): the link to its supervisor.
    let supervisor = NIOLockedValueBox<SupervisorLink?>(nil)

    init(name: String, options: ServerOptions, role: ServerRole, logger: Logger) throws {
        self.name = name
        self.options = options
        self.role = role
        recycleAfter = options.maxRequests.map { $0 + Int.random(in: 0...max(0, $0 / 10)) }
        self.logger = logger
        logsDebug = logger.logLevel <= .debug
        limits = ConnectionLimits(options: options, logger: logger)
        store = try options.stateDirectory.map { try StateStore(directory: $0) }
        tls = try options.tls?.context()
        let loops = self.loops
        pool = PythonWorkerPool(
            name: name, workers: options.pythonWorkers, maxPending: options.maxPendingCalls, logger: logger,
            onTick: { now in loops.handOverIfStuck(now: now) })
        registry = RPCRegistry(serverName: name, venvOverride: options.venv, pool: pool, logger: logger)
        dispatcher = Dispatcher(serverName: name, options: options)
        deployService = DeployService(serverName: name, store: store, guardian: DeployGuard(token: options.deployToken, operators: Set(options.tls?.operators ?? [])),
            limits: DeployLimits(options), logger: logger)
        let deploy = DeployHandler(service: deployService, registry: registry, serializer: deploySerializer, supervisor: supervisor)
        admin = AdminHandler(
            serverName: name, registry: registry, startedAt: startedAt, deploy: deploy, supervisor: supervisor, logger: logger)
    }

    /// When connections' remembered decisions (`RequestMemo`) go stale: the generation
    /// number, which every deploy that changes anything moves.
    var memoEpoch: Int { registry.current.number }

    /// Answers one framed message from `peer` (an IP address in text form): returns the
    /// answer, or nil when it will be delivered through `sink` later. `memo` is the
    /// connection's memory of its last request.
    func answer(_ frame: Frame, from peer: Peer, sink: any ReplySink, memo: RequestMemo? = nil) -> [UInt8]? {
        switch frame {
        case .oversize(let limit):
            return refuse(Self.tooLarge(limit: limit), from: peer, saying: "message over \(limit) bytes")
        case .message(let buffer):
            if let answered = answerFast(buffer, encoding: .json, from: peer, sink: sink, memo: memo) { return answered }
            // The arguments list is kept as JSON text and parsed straight into Python objects
            // when the call runs: no value tree, and the big parse happens with the GIL, after
            // the I/O loop's leader has stepped down.
            let parsed: Result<(JSONValue, [UInt8]?), JSONParseError> = buffer.withUnsafeReadableBytes { bytes in
                Result { () throws(JSONParseError) -> (JSONValue, [UInt8]?) in
                    let (value, captured) = try JSONParser.parse(bytes, capturing: "arguments")
                    return (value, captured.map { Array(bytes[$0]) })
                }
            }
            let envelope: Envelope
            let rawArguments: ArgumentBytes?
            do {
                let (message, raw) = try parsed.get()
                envelope = try Envelope(message: message)
                rawArguments = raw.map(ArgumentBytes.init)
            } catch let error as JSONParseError {
                return refuse(.badRequest("not valid JSON: \(error)"), from: peer, saying: "\(error)")
            } catch let error as RPCError {
                return refuse(error, from: peer)
            } catch {
                return refuse(.badRequest("\(error)"), from: peer)
            }
            switch envelope.header {
            case Header.rpcRequest:
                do {
                    return call(try RPCRequest(body: envelope.value, rawArguments: rawArguments), from: peer, sink: sink)
                } catch {
                    return refuse(error, from: peer)
                }
            default:
                return admin.answer(envelope, from: peer, sink: sink)
            }
        }
    }

    /// A MessagePack connection's message (a frame's body). The usual RPC-REQ is read as a JSON
    /// one is, by difference or without a value tree, its arguments kept as MessagePack for
    /// Python; anything else is read into the same envelope as a JSON message and answered
    /// the same way, from values. A result is written as MessagePack from the start
    /// (`CallInFlight`); every other answer is JSON, rewritten for the connection where it is
    /// delivered (`IOLoop.messagePack`).
    func answer(messagePack body: ByteBuffer, from peer: Peer, sink: any ReplySink, memo: RequestMemo? = nil) -> [UInt8]? {
        if let answered = answerFast(body, encoding: .messagePack, from: peer, sink: sink, memo: memo) { return answered }
        let read: Result<Envelope, RPCError> = body.withUnsafeReadableBytes { bytes in
            Result { () throws(RPCError) -> Envelope in try Envelope(messagePack: bytes) }
        }
        let envelope: Envelope
        switch read {
        case .success(let read): envelope = read
        case .failure(let error):
            return refuse(error, from: peer)
        }
        guard envelope.header == Header.rpcRequest else { return admin.answer(envelope, from: peer, sink: sink) }
        do {
            return call(try RPCRequest(body: envelope.value), from: peer, sink: sink, encoding: .messagePack)
        } catch {
            return refuse(error, from: peer)
        }
    }

    /// A message that cannot be read as a request naming anything: answered `error`, logged
    /// (`saying` what was wrong, or the error's message) and counted without labels.
    private func refuse(_ error: RPCError, from peer: Peer, saying problem: String? = nil) -> [UInt8] {
        logger.warning("bad request from \(peer): \(problem ?? error.message)")
        MetricsBoard.unnamed(.badRequest)
        return RPCReply.exception(error)
    }

    /// A request read without a value tree: a repeat of the connection's last one, already
    /// dispatched, or one to dispatch.
    private enum FastRead {
        case decided(Dispatcher.Call, rawArguments: ArgumentBytes, id: JSONValue?)
        case request(RPCRequest)
    }

    /// Answers the usual RPC-REQ: the connection's last one again with other arguments, or
    /// one read without a value tree. Nil when the message is anything else, for the general
    /// path; otherwise what `answer` returns (the answer, or nil when it comes through `sink`).
    private func answerFast(
        _ message: ByteBuffer, encoding: WireEncoding, from peer: Peer, sink: any ReplySink, memo: RequestMemo?
    ) -> [UInt8]?? {
        // Large arguments are read in place, in the message's buffer, which the call keeps.
        let keeper = message.readableBytes >= ArgumentBytes.sharedFromBytes ? MessageKeeper(message) : nil
        let fast = message.withUnsafeReadableBytes { bytes -> FastRead? in
            if let memo, let template = memo.template, let match = template.match(bytes, encoding: encoding) {
                // The call is counted on its generation before it is queued: a deploy
                // that retires the generation now waits for it (see `Generation`).
                if let decided = memo.decision.map({ unsafeDowncast($0, to: Dispatcher.Call.self) }), decided.generation === registry.current, decided.generation.beginCall() {
                    return .decided(decided, rawArguments: ArgumentBytes(UnsafeRawBufferPointer(rebasing: bytes[match.arguments]), keeper: keeper), id: match.id)
                }
                return .request(template.request(for: match, in: bytes, keeper: keeper))
            }
            guard let (request, template) = RequestTemplate.read(bytes, encoding: encoding, keeper: keeper) else { return nil }
            memo?.template = template
            memo?.decision = nil
            return .request(request)
        }
        switch fast {
        case .decided(let call, let rawArguments, let id):
            return .some(run(call, rawArguments: rawArguments, id: id, peer: peer.address, sink: sink, encoding: encoding))
        case .request(let request):
            return .some(self.call(request, from: peer, sink: sink, memo: memo, encoding: encoding))
        case nil:
            return nil
        }
    }

    private func call(
        _ request: RPCRequest, from peer: Peer, sink: any ReplySink, memo: RequestMemo? = nil, encoding: WireEncoding = .json
    ) -> [UInt8]? {
        // Entered before its functions are read, so that a deploy cannot release the
        // generation between the decision and the call.
        let generation = registry.enterCurrent()
        switch dispatcher.decide(request, from: peer, generation: generation) {
        case .reject(let error):
            generation.endCall()
            let counters = Self.counters(for: request, in: generation)
            if let invalid = Self.invalidArguments(request.rawArguments, encoding: encoding, id: request.id) {
                logger.warning("bad request from \(peer): \(invalid.message)")
                counters?.count(.badRequest) ?? MetricsBoard.unnamed(.badRequest)
                return RPCReply.exception(invalid)
            }
            if let outcome = CallOutcome(error.type) { counters?.count(outcome) ?? MetricsBoard.unnamed(outcome) }
            let label = "\(request.service).\(request.rpc)"
            if error.type == .clientNotRegistered {
                logger.warning("unauthorized: \(label) from \(peer.withCertificate) as \(request.client ?? "?"): \(error.message)")
            } else {
                logger.info("\(label) from \(peer): \(error.type.rawValue): \(error.message)")
            }
            return RPCReply.exception(error)
        case .run(let call):
            // The connection's next request like this one reuses the decision.
            if memo?.template != nil { memo?.decision = call }
            return run(call, rawArguments: request.rawArguments, id: request.id, peer: peer.address, sink: sink, encoding: encoding)
        }
    }

    /// Queues a call whose generation it has already entered (`beginCall`); the job ends it.
    private func run(
        _ call: Dispatcher.Call, rawArguments: ArgumentBytes?, id: JSONValue?, peer: String, sink: any ReplySink, encoding: WireEncoding = .json
    ) -> [UInt8]? {
        let job = CallInFlight(call: call, rawArguments: rawArguments, id: id, peer: peer, sink: sink, core: self, encoding: encoding)
        guard pool.submit(job, wake: false) else {
            call.generation.endCall()
            if let invalid = Self.invalidArguments(rawArguments, encoding: encoding, id: id) {
                call.overload.counters.count(.badRequest)
                return RPCReply.exception(invalid)
            }
            call.overload.counters.count(.serverBusy)
            let waiting = options.maxPendingCalls == 1 ? "1 call" : "\(options.maxPendingCalls) calls"
            logger.warning("\(call.overload.label) by \(call.caller)@\(peer): Server Busy (\(waiting) waiting)")
            return RPCReply.exception(RPCError(
                .serverBusy,
                "server \(name) has \(waiting) waiting for Python (--max-pending); retry in a moment",
                id: id))
        }
        MetricsBoard.callSubmitted()
        // No wake-up: the I/O loop that read the call runs it at the end of its read cycle.
        return nil
    }

    /// Where a request refused before it ran is counted: its rpc's counters, its service's
    /// for rpcs it lacks, or (nil) none named, when the service is not declared.
    private static func counters(for request: RPCRequest, in generation: Generation) -> RPCCounters? {
        guard let service = generation.services[request.service] else { return nil }
        return service.rpcs[request.rpc]?.first?.counters ?? service.unknownRPCs
    }

    /// A request's `arguments` are kept as text and read only when the call runs: before any
    /// other answer about the request, they must be valid JSON, or it is a Bad Request.
    /// (MessagePack arguments were checked when the request was read.)
    private static func invalidArguments(_ rawArguments: ArgumentBytes?, encoding: WireEncoding, id: JSONValue?) -> RPCError? {
        guard encoding == .json, let rawArguments, let invalid = JSONParser.invalidity(of: rawArguments) else { return nil }
        return .badRequest("not valid JSON: \(invalid)", id: id)
    }

    /// The answer to a message over `--max-message-bytes` (the line is skipped; the connection stays).
    static func tooLarge(limit: Int) -> RPCError {
        .badRequest("message larger than the server's limit of \(limit) bytes (see --max-message-bytes)")
    }

    static func timeoutError(label: String, timeout: Double, id: JSONValue?) -> RPCError {
        RPCError(.timeout, "\(label) ran past its time limit of \(formatSeconds(timeout)) s and was interrupted", id: id)
    }

    static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() && seconds < 1e15 ? String(Int(seconds)) : String(seconds)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = start.duration(to: .now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func milliseconds(_ seconds: Double) -> String {
        let ms = seconds * 1000
        return ms < 10 ? String(format3(ms)) : String(Int(ms.rounded()))
    }

    private static func format3(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }
}
