import PyRPCWire

/// A call in a worker process that a crash is taking down (`CrashRescue`).
extension CallInFlight {
    /// It crashed the process: its client hears how (unless its timeout was answered already).
    func answerCrash(_ cause: String) {
        guard claim() else { return }
        let seconds = started.secondsAgo
        overload.stats.record(.error, seconds: seconds)
        overload.counters.record(.executionException, seconds: seconds)
        sink.deliver(RPCReply.exception(RPCError(.executionException, "\(rpcName)() \(cause)", id: id)))
    }

    /// It was running in another thread when `crashed` took the process down: whether it took
    /// effect is unknown, and its answer is lost.
    func answerLost(crashed: String) {
        guard claim() else { return }
        let seconds = started.secondsAgo
        overload.stats.record(.error, seconds: seconds)
        overload.counters.record(.executionException, seconds: seconds)
        sink.deliver(RPCReply.exception(RPCError(
            .executionException,
            "\(rpcName)() was running when \(crashed); its answer was lost with the worker, and it may or may not have taken effect",
            id: id)))
    }

    /// It never started: the same request goes to another worker, which runs it.
    func giveBack() {
        guard claim() else { return }
        var arguments = call.arguments
        if let rawArguments, encoding == .messagePack {
            // Kept as MessagePack for Python, checked when the request was read.
            guard case .array(let values)? = try? MessagePackReader.decode(rawArguments.array) else {
                return sink.deliver(RPCReply.exception(.badRequest("field 'arguments' must be a list", id: id)))
            }
            arguments = values
        } else if let rawArguments {
            // Kept as text for Python; the request is written anew from values.
            guard case .array(let values)? = try? JSONParser.parse(rawArguments.array) else {
                let invalid = JSONParser.invalidity(of: rawArguments).map { "not valid JSON: \($0)" } ?? "field 'arguments' must be a list"
                return sink.deliver(RPCReply.exception(.badRequest(invalid, id: id)))
            }
            arguments = values
        }
        let signature = overload.signature
        let request = RPCRequest(
            client: call.caller, service: overload.service, rpc: overload.name, arguments: arguments,
            argumentTypes: signature.arguments.map(\.description), returnTypes: signature.returns.map(\.description), id: id,
            timeout: call.timeout < 1e9 ? max(0, call.timeout - started.secondsAgo) : nil)
        sink.giveBack(request.encoded())
    }
}
