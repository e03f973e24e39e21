import Logging
import NIOCore

/// One client connection: splits its bytes into messages, answers every message in the
/// order received, even when calls finish out of order (pipelining), and closes once the
/// client has half-closed and every answer is written (one-shot mode).
///
/// Framing lives here rather than in a `ByteToMessageHandler` in front: one handler per
/// connection instead of two, and no boxing of each frame between them.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: ServerCore
    private var framer: LineFramer
    /// Bytes received but not yet framed (part of a line).
    private var unframed: ByteBuffer?
    private var peer = "?"
    private var received = 0
    private var sent = 0
    /// Answers that are ready but wait for an earlier one.
    private var waiting: [Int: [UInt8]] = [:]
    private var inputClosed = false
    /// The idle sweeper's epoch at the last traffic (see `IdleSweeper`).
    private(set) var lastActivity: UInt64 = 0
    private var sweeper: IdleSweeper?
    private var context: ChannelHandlerContext?

    init(core: ServerCore) {
        self.core = core
        framer = LineFramer(maxBytes: core.options.maxMessageBytes)
    }

    private var idle: Bool { sent == received }

    func channelActive(context: ChannelHandlerContext) {
        peer = Self.describe(context.remoteAddress)
        core.logger.debug("connection from \(Self.describeWithPort(context.remoteAddress))")
        self.context = context
        let sweeper = core.idleSweeper(for: context.eventLoop)
        sweeper.add(self)
        lastActivity = sweeper.epoch
        self.sweeper = sweeper
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        sweeper?.remove(self)
        sweeper = nil
        self.context = nil
        context.fireChannelInactive()
    }

    /// Called by the sweeper when there was no traffic for the idle timeout.
    func closeIfIdle() {
        guard idle, let context else { return }
        core.logger.info("closing idle connection from \(peer)")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let sweeper { lastActivity = sweeper.epoch }
        var incoming = unwrapInboundIn(data)
        if var buffer = unframed {
            unframed = nil  // drop our reference first, so the append does not copy the storage
            buffer.writeBuffer(&incoming)
            incoming = buffer
        }
        while let frame = framer.next(from: &incoming) { handle(frame, context: context) }
        if incoming.readableBytes > 0 {
            incoming.discardReadBytes()
            unframed = incoming
        }
    }

    private func handle(_ frame: Frame, context: ChannelHandlerContext) {
        let sequence = received
        received += 1
        switch core.answer(frame, from: peer, on: context.eventLoop) {
        case .now(let bytes):
            deliver(bytes, sequence: sequence, context: context)
        case .later(let future):
            future.assumeIsolated().whenSuccess { bytes in
                self.deliver(bytes, sequence: sequence, context: context)
            }
        }
    }

    private func deliver(_ bytes: [UInt8], sequence: Int, context: ChannelHandlerContext) {
        if let sweeper { lastActivity = sweeper.epoch }
        guard sequence == sent else {
            waiting[sequence] = bytes  // an earlier answer is still missing
            return
        }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        sent += 1
        while !waiting.isEmpty, let next = waiting.removeValue(forKey: sent) {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: next)), promise: nil)
            sent += 1
        }
        context.flush()
        if inputClosed && idle { context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            if var rest = unframed {
                unframed = nil
                for frame in framer.finish(&rest) { handle(frame, context: context) }
            }
            inputClosed = true
            if idle { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        core.logger.info("connection from \(peer) failed: \(error)")
        context.close(promise: nil)
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress else { return "?" }
        return ip
    }

    static func describeWithPort(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress else { return "?" }
        let port = address.port.map(String.init) ?? "?"
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
