import NIOCore
import NIOPosix
import PyRPCWire

/// One TCP connection speaking newline-delimited JSON. Requests may be pipelined: answers
/// come back in order and complete the requests' futures in order.
public final class LineConnection: Sendable {
    let channel: Channel
    private let replies: NIOLoopBound<ReplyHandler>

    private init(channel: Channel, replies: NIOLoopBound<ReplyHandler>) {
        self.channel = channel
        self.replies = replies
    }

    /// Connects to `host:port`, from `localAddress` when given (to call as a client declared
    /// at another loopback address such as 127.0.0.2).
    public static func connect(
        host: String, port: Int, localAddress: String? = nil, timeout: Double = 5,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) -> EventLoopFuture<LineConnection> {
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NewlineSplitter()))
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler())
                }
            }
        if let localAddress, let bind = try? SocketAddress(ipAddress: localAddress, port: 0) {
            bootstrap = bootstrap.bind(to: bind)
        }
        return bootstrap.connect(host: host, port: port).flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: ReplyHandler.self)
            return LineConnection(channel: channel, replies: NIOLoopBound(handler, eventLoop: channel.eventLoop))
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

    /// Sends one message (already newline-terminated) and returns the parsed answer.
    public func send(_ message: [UInt8]) -> EventLoopFuture<Envelope> {
        let promise = channel.eventLoop.makePromise(of: Envelope.self)
        let replies = self.replies
        let channel = self.channel
        channel.eventLoop.execute {
            guard channel.isActive else {
                promise.fail(RPCClientError.network("the connection is closed"))
                return
            }
            replies.value.waiting.append(promise)
            channel.writeAndFlush(channel.allocator.buffer(bytes: message), promise: nil)
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

    public var isActive: Bool { channel.isActive }

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

    var waiting = CircularBuffer<EventLoopPromise<Envelope>>()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard let promise = waiting.popFirst() else { return }
        let parsed: Result<JSONValue, JSONParseError> = line.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(bytes) }
        }
        do {
            promise.succeed(try Envelope(message: try parsed.get()))
        } catch {
            promise.fail(RPCClientError.protocolViolation("unreadable answer: \(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCClientError.network("the server closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(RPCClientError.network("connection failed: \(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}
