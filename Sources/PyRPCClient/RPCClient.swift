import NIOCore
import NIOPosix
import PyRPCWire

/// Calls RPCs on one pyrpc server over a persistent connection (reconnecting when needed).
///
/// ```swift
/// let client = RPCClient(host: "127.0.0.1", port: 8181, client: "c1")
/// let sum: Int = try await client.call("calc", "add", 2, 3)
/// ```
/// Argument and return types are derived from the Swift types; use `callValues` to send
/// explicit types. Concurrent calls share the connection and are pipelined.
public final class RPCClient: Sendable {
    public let host: String
    public let port: Int
    /// The client name sent in requests (as declared in init.yaml).
    public let clientName: String?
    /// The local address to connect from, if the client is declared at a specific one.
    public let localAddress: String?
    private let connection: NIOLockedConnection

    /// Over TLS when `tls` is given (the server's certificate must name `host`). In MessagePack
    /// unless `encoding` says otherwise; a server that answers it in JSON is called in JSON
    /// from then on (found out from its first answer, see `FirstMessage`).
    public init(
        host: String, port: Int, client: String? = nil, localAddress: String? = nil, tls: TLSConfiguration? = nil,
        encoding: WireEncoding? = nil
    ) {
        self.host = host
        self.port = port
        self.clientName = client
        self.localAddress = localAddress
        connection = NIOLockedConnection(tls: tls, encoding: encoding)
    }

    /// Typed call: `let n: Int = try await client.call("calc", "add", 2, 3)`.
    public func call<Result: RPCValue>(_ service: String, _ rpc: String, _ arguments: any RPCValue..., timeout: Double? = nil) async throws(RPCClientError) -> Result {
        let values = try await callValues(
            service, rpc, arguments: arguments.map(\.jsonValue),
            argumentTypes: arguments.map { type(of: $0).rpcType }, returnTypes: [Result.rpcType], timeout: timeout)
        return try CallEncoding.single(values)
    }

    /// Untyped call with explicit types; returns the `return-values`.
    public func callValues(
        _ service: String, _ rpc: String, arguments: [JSONValue], argumentTypes: [RPCType], returnTypes: [RPCType],
        timeout: Double? = nil, id: JSONValue? = nil
    ) async throws(RPCClientError) -> [JSONValue] {
        let answer = try await send(CallEncoding.request(
            client: clientName, service, rpc, arguments, argumentTypes, returnTypes, timeout: timeout, id: id))
        return try CallEncoding.values(answer)
    }

    /// Sends any message (JSON text) and returns the answer envelope (used for deploys).
    public func send(_ message: [UInt8]) async throws(RPCClientError) -> Envelope {
        try await send { $0.send(message) }
    }

    /// Sends an envelope (calls, LS-REQ, STATS-REQ) in the connection's encoding and returns the answer.
    public func send(_ envelope: Envelope) async throws(RPCClientError) -> Envelope {
        try await send { $0.send(envelope) }
    }

    private func send(_ write: (LineConnection) -> EventLoopFuture<Envelope>) async throws(RPCClientError) -> Envelope {
        var attempt = 1
        while true {
            do {
                let line = try await connection.get(host: host, port: port, localAddress: localAddress)
                return try await write(line).get()
            } catch {
                try CallEncoding.sendAgain(after: error, attempt: attempt, server: "\(host):\(port)", fallback: connection.encoding == nil)
                attempt += 1
            }
        }
    }

    public func close() {
        connection.close()
    }
}

/// A call API that blocks the calling thread (never use it on an event loop).
///
/// ```swift
/// let client = BlockingRPCClient(host: "127.0.0.1", port: 8181, client: "c1")
/// let n: Int = try client.call("calc", "add", 2, 3)
/// ```
public final class BlockingRPCClient: Sendable {
    private let connection: NIOLockedConnection
    public let host: String
    public let port: Int
    public let clientName: String?
    public let localAddress: String?

    /// Over TLS when `tls` is given (the server's certificate must name `host`). In MessagePack
    /// unless `encoding` says otherwise; a server that answers it in JSON is called in JSON
    /// from then on (found out from its first answer, see `FirstMessage`).
    public init(
        host: String, port: Int, client: String? = nil, localAddress: String? = nil, tls: TLSConfiguration? = nil,
        encoding: WireEncoding? = nil
    ) {
        self.host = host
        self.port = port
        self.clientName = client
        self.localAddress = localAddress
        connection = NIOLockedConnection(tls: tls, encoding: encoding)
    }

    public func call<Result: RPCValue>(_ service: String, _ rpc: String, _ arguments: any RPCValue..., timeout: Double? = nil) throws(RPCClientError) -> Result {
        let values = try callValues(
            service, rpc, arguments: arguments.map(\.jsonValue),
            argumentTypes: arguments.map { type(of: $0).rpcType }, returnTypes: [Result.rpcType], timeout: timeout)
        return try CallEncoding.single(values)
    }

    public func callValues(
        _ service: String, _ rpc: String, arguments: [JSONValue], argumentTypes: [RPCType], returnTypes: [RPCType],
        timeout: Double? = nil, id: JSONValue? = nil
    ) throws(RPCClientError) -> [JSONValue] {
        let answer = try send(CallEncoding.request(
            client: clientName, service, rpc, arguments, argumentTypes, returnTypes, timeout: timeout, id: id))
        return try CallEncoding.values(answer)
    }

    public func send(_ message: [UInt8]) throws(RPCClientError) -> Envelope {
        try send { $0.send(message) }
    }

    public func send(_ envelope: Envelope) throws(RPCClientError) -> Envelope {
        try send { $0.send(envelope) }
    }

    private func send(_ write: (LineConnection) -> EventLoopFuture<Envelope>) throws(RPCClientError) -> Envelope {
        var attempt = 1
        while true {
            do {
                let line = try connection.getBlocking(host: host, port: port, localAddress: localAddress)
                return try write(line).wait()
            } catch {
                try CallEncoding.sendAgain(after: error, attempt: attempt, server: "\(host):\(port)", fallback: connection.encoding == nil)
                attempt += 1
            }
        }
    }

    public func close() {
        connection.close()
    }
}

/// The request and answer handling both clients share.
enum CallEncoding {
    /// How often a request the server did not read (GOAWAY) is sent: each time is a worker
    /// leaving, so more than a few in a row means something else is wrong.
    static let sendsOfUnreadRequests = 4

    /// Returns when a send that failed with `error` may be made again: a request the server
    /// never read (GOAWAY) goes again on a new connection. Otherwise, the error to report.
    static func sendAgain(after error: Error, attempt: Int, server: String, fallback: Bool) throws(RPCClientError) {
        switch error {
        case let error as RPCClientError: throw error
        case is ServerSpeaksJSON where fallback && attempt == 1:
            // The server read nothing it could run: once more, in JSON.
            ServerEncodings.learn(server, speaks: .json)
            return
        case let refusal as ServerSpeaksJSON: throw .network("\(server): \(refusal)")
        case let unread as UnreadRequest where attempt >= sendsOfUnreadRequests: throw .network("\(server): \(unread)")
        case is UnreadRequest: return
        default: throw .network("\(server): \(LineConnection.explain(error))")
        }
    }

    static func request(
        client: String?, _ service: String, _ rpc: String, _ arguments: [JSONValue], _ argumentTypes: [RPCType],
        _ returnTypes: [RPCType], timeout: Double?, id: JSONValue?
    ) -> Envelope {
        RPCRequest(
            client: client, service: service, rpc: rpc, arguments: arguments,
            argumentTypes: argumentTypes.map(\.description), returnTypes: returnTypes.map(\.description), id: id, timeout: timeout
        ).envelope
    }

    static func values(_ answer: Envelope) throws(RPCClientError) -> [JSONValue] {
        do {
            return try RPCReply.decode(answer)
        } catch {
            throw .rpc(error)
        }
    }

    static func single<Result: RPCValue>(_ values: [JSONValue]) throws(RPCClientError) -> Result {
        guard values.count == 1 else { throw .protocolViolation("expected 1 return value, got \(values.count)") }
        return try Result(jsonValue: values[0])
    }
}
