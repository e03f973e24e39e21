import NIOCore
import NIOPosix
import PyRPCTLS
import PyRPCWire
import NIOConcurrencyHelpers

/// One TCP connection speaking newline-delimited JSON or MessagePack frames (`encoding`).
/// Messages are given as JSON and sent in the connection's encoding. Requests may be
/// pipelined: answers come back in order and complete the requests' futures in order.
public final class LineConnection: Sendable {
    let channel: Channel
    public let encoding: WireEncoding
    private let replies: NIOLoopBound<ReplyHandler>
    /// The server said GOAWAY: nothing more may be sent here.
    let wentAway: NIOLockedValueBox<Bool>

    private init(channel: Channel, encoding: WireEncoding, replies: NIOLoopBound<ReplyHandler>) {
        self.channel = channel
        self.encoding = encoding
        self.replies = replies
        wentAway = replies.value.wentAway
    }

    /// Connects to `host:port`, from `localAddress` when given (to call as a client declared
    /// at another loopback address such as 127.0.0.2); over TLS when `tls` is given, ready
    /// once the handshake is over.
    public static func connect(
        host: String, port: Int, localAddress: String? = nil, tls: TLSConfiguration? = nil, timeout: Double = 5,
        encoding: WireEncoding = .json, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) -> EventLoopFuture<LineConnection> {
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let session = try TLSClientSession(context: tls.context, host: host, port: port)
                        try channel.pipeline.syncOperations.addHandler(TLSClientHandler(
                            session: session, server: "\(host):\(port)", handshake: channel.eventLoop.makePromise()))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(AnswerSplitter(encoding: encoding)))
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(encoding: encoding))
                }
            }
        if let localAddress, let bind = try? SocketAddress(ipAddress: localAddress, port: 0) {
            bootstrap = bootstrap.bind(to: bind)
        }
        return bootstrap.connect(host: host, port: port).flatMap { channel in
            // Over TLS, usable once the handshake is over (its failure says why, e.g. the
            // server's certificate does not name `host`).
            guard let handshake = try? channel.pipeline.syncOperations.handler(type: TLSClientHandler.self).handshake else {
                return channel.eventLoop.makeSucceededFuture(channel)
            }
            return handshake.futureResult.map { channel }
        }.flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: ReplyHandler.self)
            return LineConnection(channel: channel, encoding: encoding, replies: NIOLoopBound(handler, eventLoop: channel.eventLoop))
        }.flatMapErrorThrowing { error in
            throw RPCClientError.network("cannot connect to \(host):\(port): \(Self.explain(error))")
        }
    }

    static func explain(_ error: Error) -> String {
        if let error = error as? RPCClientError { return error.description }
        let text = "\(error)"
        if text.contains("connection refused") || text.contains("Connection refused") { return "connection refused (is the server running?)" }
        if text.contains("imeout") { return "timed out" }
        return text
    }

    /// Sends one message (JSON, newline-terminated, sent as MessagePack on such a connection)
    /// and returns the parsed answer.
    public func send(_ message: [UInt8]) -> EventLoopFuture<Envelope> {
        guard encoding == .messagePack else { return write { _ in [message] } }
        guard let value = try? JSONParser.parse(message) else {
            return channel.eventLoop.makeFailedFuture(RPCClientError.protocolViolation("a message that is not JSON cannot be sent"))
        }
        return sendMessagePack(value)
    }

    /// Sends an envelope in the connection's encoding (on a MessagePack connection without
    /// JSON text in between) and returns the parsed answer.
    func send(_ envelope: Envelope) -> EventLoopFuture<Envelope> {
        guard encoding == .messagePack else { return write { _ in [envelope.encoded()] } }
        return sendMessagePack(.object(["header": .string(envelope.header), "value": .object(envelope.value)]))
    }

    private func sendMessagePack(_ value: JSONValue) -> EventLoopFuture<Envelope> {
        let frame = MessagePackFrame.frame(MessagePackWriter.encode(value))
        return write { first in
            guard first else { return [frame] }
            // The connection's first bytes: the mark, and a frame padded so that a server that
            // reads JSON lines answers at once (`FirstMessage`); too long to pad, a small probe
            // goes first (its answer is dropped).
            if let padded = FirstMessage.padded(value) { return [padded] }
            return [FirstMessage.probe, frame]
        }
    }

    /// Writes, on the connection's loop, the messages `make` gives (`first`: nothing was
    /// written on this connection before; decided on the loop, where writes are ordered, so
    /// that concurrent senders cannot overtake the first message). The answer to the last one
    /// completes the future; those before it are dropped.
    private func write(_ make: @escaping @Sendable (_ first: Bool) -> [[UInt8]]) -> EventLoopFuture<Envelope> {
        let promise = channel.eventLoop.makePromise(of: Envelope.self)
        let replies = self.replies
        let channel = self.channel
        channel.eventLoop.execute {
            // Closed (or going away) before the message was written: nothing was sent, so the
            // client may send it again on a new connection.
            guard channel.isActive, !replies.value.wentAway.withLockedValue({ $0 }) else {
                promise.fail(UnreadRequest())
                return
            }
            let handler = replies.value
            let messages = make(!handler.started)
            handler.started = true
            for _ in messages.dropLast() { handler.waiting.append(channel.eventLoop.makePromise(of: Envelope.self)) }
            handler.waiting.append(promise)
            var buffer = channel.allocator.buffer(capacity: messages.reduce(0) { $0 + $1.count })
            for message in messages { buffer.writeBytes(message) }
            channel.writeAndFlush(buffer, promise: nil)
        }
        return promise.futureResult
    }

    /// Sends bytes and half-closes the write side (one-shot mode).
    public func sendAndHalfClose(_ message: [UInt8]) -> EventLoopFuture<Envelope> {
        let answer = send(message)
        channel.eventLoop.execute { [channel] in
            channel.close(mode: .output, promise: nil)
        }
        return answer
    }

    public var isActive: Bool { channel.isActive && !wentAway.withLockedValue { $0 } }

    public func close() {
        channel.close(promise: nil)
    }
}

/// Splits the inbound stream at newlines.
struct NewlineSplitter: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let line = buffer.readSlice(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: buffer.readableBytes)!))
        }
        return .needMoreData
    }
}

/// Completes waiting requests with the answers, in order.
final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let encoding: WireEncoding
    var waiting = CircularBuffer<EventLoopPromise<Envelope>>()
    /// Something was written on the connection (its first MessagePack message carries the mark).
    var started = false
    /// Set by a GOAWAY (read on the loop, and by `LineConnection.isActive` anywhere).
    let wentAway = NIOLockedValueBox(false)

    init(encoding: WireEncoding) {
        self.encoding = encoding
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        let envelope: Envelope
        do {
            envelope = try encoding == .messagePack ? Self.messagePack(message) : Self.json(message)
        } catch {
            waiting.popFirst()?.fail(RPCClientError.protocolViolation("unreadable answer: \(error)"))
            return
        }
        if envelope.header == Header.goAway {
            // The server answered everything it read and closes: what still waits was never
            // read, so it is safe to send again on a new connection.
            wentAway.withLockedValue { $0 = true }
            failAll(UnreadRequest())
            return
        }
        waiting.popFirst()?.succeed(envelope)
    }

    private static func json(_ line: ByteBuffer) throws -> Envelope {
        let parsed: Result<JSONValue, JSONParseError> = line.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(bytes) }
        }
        return try Envelope(message: try parsed.get())
    }

    private static func messagePack(_ frame: ByteBuffer) throws -> Envelope {
        let read: Result<Envelope, RPCError> = frame.withUnsafeReadableBytes { bytes in
            Result { () throws(RPCError) -> Envelope in try Envelope(messagePack: bytes) }
        }
        return try read.get()
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCClientError.network("the server closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error is ServerSpeaksJSON ? error : error as? RPCClientError ?? RPCClientError.network("connection failed: \(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}

/// A request the server never read: it said GOAWAY (its worker is leaving) before reaching
/// it, or the connection had closed before it was written. `RPCClient` sends it again on a
/// new connection.
struct UnreadRequest: Error, CustomStringConvertible {
    var description: String { "the connection closed before the request was read" }
}
