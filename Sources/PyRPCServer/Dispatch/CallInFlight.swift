import Logging
import PyRPCPython
import PyRPCWire

/// One dispatched call from the moment it is queued for Python until it is answered: the
/// pool's job for it. Runs it, or answers that it timed out, records its statistics and logs
/// it.
///
/// Besides this, a repeated request allocates only its argument text, the argument vector
/// for Python and its answer (4 allocations a call, counted with uprobes): the decision
/// (`call`) is shared by every request a connection repeats, and the server's settings are
/// read from `core` rather than copied in.
final class CallInFlight: PythonJob, @unchecked Sendable {
    let call: Dispatcher.Call
    /// The `arguments` list unparsed, in the connection's `encoding` (JSON text or MessagePack
    /// bytes), parsed into Python objects when the call runs (nil when the request's arguments
    /// were read as values: `call.arguments`).
    let rawArguments: ArgumentBytes?
    let id: JSONValue?
    let peer: String
    let sink: any ReplySink
    let core: ServerCore
    /// The encoding its answer is written in: the connection's.
    let encoding: WireEncoding
    let started: Moment

    init(
        call: Dispatcher.Call, rawArguments: ArgumentBytes?, id: JSONValue?, peer: String, sink: any ReplySink, core: ServerCore,
        encoding: WireEncoding = .json
    ) {
        self.call = call
        self.encoding = encoding
        self.rawArguments = rawArguments
        self.id = id
        self.peer = peer
        self.sink = sink
        self.core = core
        let started = Moment.now
        self.started = started
        super.init(deadline: started.advanced(bySeconds: call.timeout))  // saturates: no limit is never
    }

    var overload: Overload { call.overload }
    /// `demo.spin`, for answers.
    var rpcName: String { "\(overload.service).\(overload.name)" }

    var logger: Logger { core.logger }

    /// Runs the call on a thread holding the GIL and delivers its answer (unless the
    /// watchdog answered first).
    override func run(_ gil: borrowing GIL) {
        Scoreboard.enter(overload.label)
        let (outcome, result) = encoding == .messagePack ? runForMessagePack(gil) : runForJSON(gil)
        Scoreboard.leave()
        guard claim() else { return }
        let seconds = started.secondsAgo
        let reply: [UInt8]
        switch outcome {
        case .returned:
            reply = result
            overload.stats.record(.ok, seconds: seconds)
            overload.counters.record(.ok, seconds: seconds)
            // Per-call success lines are debug: at info every call would pay for a log write.
            if core.logsDebug { logger.debug("\(overload.label) by \(call.caller)@\(peer): ok in \(ServerCore.milliseconds(seconds)) ms") }
        case .invalidArguments(let problem):
            reply = RPCReply.exception(RPCError(.invalidArguments, "\(problem); \(call.accepted)", id: id))
            overload.counters.count(.invalidArguments)
            logger.info("\(overload.label) by \(call.caller)@\(peer): Invalid Arguments: \(problem)")
        case .malformed(let problem):
            reply = RPCReply.exception(.badRequest(problem, id: id))
            overload.counters.count(.badRequest)
            logger.warning("bad request from \(peer): \(problem)")
        case .raised(let summary, let traceback):
            let message = core.options.debug && !traceback.isEmpty ? "\(summary)\n\(traceback)" : summary
            reply = RPCReply.exception(RPCError(.executionException, message, id: id))
            overload.stats.record(.error, seconds: seconds)
            overload.counters.record(.executionException, seconds: seconds)
            logger.info("\(overload.label) by \(call.caller)@\(peer): Execution Exception in \(ServerCore.milliseconds(seconds)) ms: \(summary)")
            if !traceback.isEmpty { logger.debug("\(traceback)") }
        case .badReturn(let problem):
            let message = "\(rpcName) returned a value that does not fit its declared return types (\(overload.signature.returns.map(\.description).joined(separator: ", "))): \(problem)"
            reply = RPCReply.exception(RPCError(.executionException, message, id: id))
            overload.stats.record(.error, seconds: seconds)
            overload.counters.record(.executionException, seconds: seconds)
            logger.info("\(overload.label) by \(call.caller)@\(peer): bad return value in \(ServerCore.milliseconds(seconds)) ms: \(problem)")
        case .interrupted:
            reply = RPCReply.exception(ServerCore.timeoutError(label: rpcName, timeout: call.timeout, id: id))
            overload.stats.record(.timeout, seconds: seconds)
            overload.counters.record(.timeout, seconds: seconds)
            logger.info("\(overload.label) by \(call.caller)@\(peer): Timeout after \(ServerCore.milliseconds(seconds)) ms")
        }
        sink.deliver(reply)
    }

    /// The answer is written once: its start, the values straight from Python, its end.
    private func runForJSON(_ gil: borrowing GIL) -> (EncodedOutcome, [UInt8]) {
        var writer = JSONWriter(capacity: 128)
        RPCReply.beginResult(into: &writer)
        let outcome = overload.function.callEncoded(
            rawArguments: rawArguments, values: call.arguments,
            types: overload.signature.arguments, returns: overload.signature.returns, into: &writer, gil)
        if case .returned = outcome { RPCReply.endResult(id: id, into: &writer) }
        return (outcome, writer.bytes)
    }

    /// The same as a MessagePack frame: `{"header": "RPC-RES", "value": {"id": ..., "return-values": [...]}}`,
    /// the id first so that the values are written last, straight from Python.
    private func runForMessagePack(_ gil: borrowing GIL) -> (EncodedOutcome, [UInt8]) {
        var writer = MessagePackWriter(capacity: 128)
        RPCReply.beginResult(id: id, into: &writer)
        let outcome = overload.function.callEncoded(
            rawArguments: rawArguments, values: call.arguments,
            types: overload.signature.arguments, returns: overload.signature.returns, into: &writer, gil)
        if case .returned = outcome { RPCReply.endResult(into: &writer) }
        return (outcome, writer.bytes)
    }

    /// The deadline passed first (the job is claimed): answers Timeout while the pool
    /// interrupts the call.
    override func expire() {
        let seconds = started.secondsAgo
        overload.stats.record(.timeout, seconds: seconds)
        overload.counters.record(.timeout, seconds: seconds)
        logger.warning("\(overload.label) by \(call.caller)@\(peer): Timeout after \(ServerCore.milliseconds(seconds)) ms (limit \(call.timeout) s); interrupting it")
        sink.deliver(RPCReply.exception(ServerCore.timeoutError(label: rpcName, timeout: call.timeout, id: id)))
    }

    override var label: String { "\(overload.label) by \(call.caller)@\(peer)" }

    /// The call left the pool: its generation may retire.
    override func finish() {
        call.generation.endCall()
        let finished = MetricsBoard.callFinished()
        // `--max-requests` reached: the watchdog recycles the worker now, not at its next look.
        if finished == core.recycleAfter { core.recycleDue.signal() }
    }
}
