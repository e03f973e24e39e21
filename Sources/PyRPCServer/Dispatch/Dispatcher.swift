import Logging
import PyRPCPython
import PyRPCWire

/// Checks an RPC-REQ in the order the course assignment sets — service → rpc → client →
/// arguments — and only then hands it to Python.
struct Dispatcher: Sendable {
    /// What to do with a request.
    enum Decision: Sendable {
        /// Answer at once (an RPC-EX before any Python ran).
        case reject(RPCError)
        /// Run it: the chosen overload with canonical argument values.
        case run(Call)
    }

    /// What runs, for whom, within what time. A connection that repeats a request reuses it
    /// (see `RequestMemo`); the arguments that vary travel with each `CallInFlight`.
    final class Call: Sendable {
        let generation: Generation
        let overload: Overload
        /// Canonical values, for a request whose arguments were read as values; empty when they
        /// come as JSON text (`RPCRequest.rawArguments`), parsed straight into Python.
        let arguments: [JSONValue]
        let caller: String
        /// Seconds: the smallest of the server's, the rpc's and the request's limits.
        let timeout: Double
        /// Every overload of the rpc, for the `Invalid Arguments` message.
        let overloads: [Overload]

        init(generation: Generation, overload: Overload, arguments: [JSONValue], caller: String, timeout: Double,
             overloads: [Overload]) {
            self.generation = generation
            self.overload = overload
            self.arguments = arguments
            self.caller = caller
            self.timeout = timeout
            self.overloads = overloads
        }

        /// Every valid signature, for an `Invalid Arguments` found while parsing raw arguments.
        var accepted: String {
            OverloadResolver.accepted(service: overload.service, rpc: overload.name, overloads: overloads)
        }
    }

    let serverName: String
    let options: ServerOptions

    func decide(_ request: RPCRequest, from peer: Peer, generation: Generation) -> Decision {
        // 1. service
        guard let service = generation.services[request.service] else {
            let offered = generation.manifest.services.map(\.name)
            return .reject(RPCError(
                .serviceNotFound,
                "server \(serverName) does not provide service '\(request.service)'"
                    + (offered.isEmpty ? " (it has no services deployed)" : "; it provides \(offered.joined(separator: ", "))"),
                id: request.id))
        }
        // 2. rpc
        guard let overloads = service.rpcs[request.rpc] else {
            return .reject(RPCError(
                .rpcNotFound,
                "service '\(service.name)' has no rpc '\(request.rpc)'; it has \(service.rpcNames.joined(separator: ", "))",
                id: request.id))
        }
        // 3. client
        let caller: String
        switch identify(request, from: peer, service: service, clients: generation.clients) {
        case .success(let name): caller = name
        case .failure(let error): return .reject(error)
        }
        // 4. arguments
        switch OverloadResolver.resolve(request, service: service.name, overloads: overloads) {
        case .failure(let error):
            return .reject(error)
        case .success(let (overload, arguments)):
            var timeout = options.callTimeout
            if let limit = overload.timeout { timeout = min(timeout, limit) }
            if let limit = request.timeout { timeout = min(timeout, limit) }
            return .run(Call(
                generation: generation, overload: overload, arguments: arguments, caller: caller, timeout: timeout,
                overloads: overloads))
        }
    }

    private func identify(_ request: RPCRequest, from peer: Peer, service: ServiceTable, clients: ClientDirectory) -> Result<String, RPCError> {
        func refuse(_ reason: String) -> Result<String, RPCError> {
            .failure(RPCError(.clientNotRegistered, reason, id: request.id))
        }
        let name: String
        switch clients.identify(claimed: request.client, at: peer.address, certificate: peer.certificate) {
        case .client(let identified):
            name = identified
        case .certified(let holder, let claimed):
            return refuse("the certificate of client '\(holder)' cannot call as client '\(claimed)': a certificate's client calls as itself (drop 'client' from the request, or use \(claimed)'s certificate)")
        case .undeclared(let declared):
            return refuse("client '\(declared)' is not registered, so it may not access service '\(service.name)' (declare it under network.clients in init.yaml)")
        case .elsewhere(let declared):
            return refuse("client '\(declared)' may not access service '\(service.name)' from \(peer): its declared address is different")
        case .nobody:
            return refuse("no registered client has address \(peer), so it may not access service '\(service.name)'")
        case .ambiguous(let here):
            return refuse("clients \(here.joined(separator: ", ")) share address \(peer): send 'client' in the request to say which one may access service '\(service.name)'")
        }
        guard service.tenants.contains(name) else {
            return refuse("client '\(name)' may not access service '\(service.name)': it is not one of its tenants")
        }
        return .success(name)
    }
}
