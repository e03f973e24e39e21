import Logging
import PyRPCPython
import PyRPCWire

/// One dispatched call from the moment it is queued for Python until it is answered: runs
/// it, or answers that it timed out, records its statistics and logs it.
///
/// One object rather than closures that each capture a dozen values: a call allocates this
/// and nothing else, and the pool's closures capture just it.
final class CallInFlight: Sendable {
    let call: Dispatcher.Call
    let id: JSONValue?
    let peer: String
    let route: ReplyRoute
    let logger: Logger
    let debug: Bool
    let started = ContinuousClock.now
    /// Decides who answers: the call when it returns, or the watchdog when it overran.
    let ticket = JobTicket()

    init(call: Dispatcher.Call, id: JSONValue?, peer: String, route: ReplyRoute, logger: Logger, debug: Bool) {
        self.call = call
        self.id = id
        self.peer = peer
        self.route = route
        self.logger = logger
        self.debug = debug
    }

    var deadline: ContinuousClock.Instant {
        started + .nanoseconds(Int64(min(call.timeout, 1e9) * 1e9))
    }

    private var overload: Overload { call.overload }
    private var label: String { "\(overload.service).\(overload.name)" }

    /// Runs the call on a thread holding the GIL and delivers its answer (unless the
    /// watchdog answered first).
    func run(_ gil: borrowing GIL) {
        let outcome = overload.function.callEncoded(
            rawArguments: call.rawArguments, values: call.arguments,
            types: overload.signature.arguments, returns: overload.signature.returns, gil)
        guard ticket.claim() else { return }
        let seconds = ServerCore.seconds(since: started)
        let reply: [UInt8]
        switch outcome {
        case .returned(let values):
            reply = RPCReply.result(encodedValues: values, id: id)
            overload.stats.record(.ok, seconds: seconds)
            // Per-call success lines are debug: at info every call would pay for a log write.
            logger.debug("\(overload.label) by \(call.caller)@\(peer): ok in \(ServerCore.milliseconds(seconds)) ms")
        case .invalidArguments(let problem):
            reply = RPCReply.exception(RPCError(.invalidArguments, "\(problem); \(call.accepted)", id: id))
            logger.info("\(overload.label) by \(call.caller)@\(peer): Invalid Arguments: \(problem)")
        case .malformed(let problem):
            reply = RPCReply.exception(.badRequest(problem, id: id))
            logger.warning("bad request from \(peer): \(problem)")
        case .raised(let summary, let traceback):
            let message = debug && !traceback.isEmpty ? "\(summary)\n\(traceback)" : summary
            reply = RPCReply.exception(RPCError(.executionException, message, id: id))
            overload.stats.record(.error, seconds: seconds)
            logger.info("\(overload.label) by \(call.caller)@\(peer): Execution Exception in \(ServerCore.milliseconds(seconds)) ms: \(summary)")
            if !traceback.isEmpty { logger.debug("\(traceback)") }
        case .badReturn(let problem):
            let message = "\(label) returned a value that does not fit its declared return types (\(overload.signature.returns.map(\.description).joined(separator: ", "))): \(problem)"
            reply = RPCReply.exception(RPCError(.executionException, message, id: id))
            overload.stats.record(.error, seconds: seconds)
            logger.info("\(overload.label) by \(call.caller)@\(peer): bad return value in \(ServerCore.milliseconds(seconds)) ms: \(problem)")
        case .interrupted:
            reply = RPCReply.exception(ServerCore.timeoutError(label: label, timeout: call.timeout, id: id))
            overload.stats.record(.timeout, seconds: seconds)
            logger.info("\(overload.label) by \(call.caller)@\(peer): Timeout after \(ServerCore.milliseconds(seconds)) ms")
        }
        route.deliver(reply)
    }

    /// The deadline passed first (the ticket is claimed): answers Timeout while the pool
    /// interrupts the call.
    func expire() {
        let seconds = ServerCore.seconds(since: started)
        overload.stats.record(.timeout, seconds: seconds)
        logger.warning("\(overload.label) by \(call.caller)@\(peer): Timeout after \(ServerCore.milliseconds(seconds)) ms (limit \(call.timeout) s); interrupting it")
        route.deliver(RPCReply.exception(ServerCore.timeoutError(label: label, timeout: call.timeout, id: id)))
    }

    /// The call left the pool: its generation may retire.
    func finish() {
        call.generation.endCall()
    }
}
