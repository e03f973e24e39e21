import NIOCore
import PyRPCTLS

/// TLS between the socket and the line handlers: ciphertext from the network goes into the
/// OpenSSL session, plaintext comes out for the handlers after it, and their writes are
/// encrypted on the way out. Writes made before the handshake ends wait for it.
final class TLSClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let session: TLSClientSession
    private let server: String
    /// Succeeds once the handshake is over: the connection is usable.
    let handshake: EventLoopPromise<Void>
    private var handshakeSettled = false
    /// Writes made during the handshake, with their promises.
    private var early: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    /// Promises of writes encrypted since the last flush.
    private var unflushed: [EventLoopPromise<Void>] = []

    init(session: TLSClientSession, server: String, handshake: EventLoopPromise<Void>) {
        self.session = session
        self.server = server
        self.handshake = handshake
    }

    func channelActive(context: ChannelHandlerContext) {
        advance(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { session.receive($0) }
        advance(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: nil, "\(server) closed the connection during the TLS handshake")
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        guard session.isEstablished else { return early.append((bytes, promise)) }
        encrypt(bytes, promise: promise, context: context)
    }

    func flush(context: ChannelHandlerContext) {
        sendCiphertext(context: context)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // close_notify first, so that the server reads a finished stream, not a cut one.
        if mode != .input, handshakeSettled {
            session.shutdown()
            sendCiphertext(context: context)
        }
        context.close(mode: mode, promise: promise)
    }

    /// Moves the session on with what arrived: the handshake, then plaintext for the handlers.
    private func advance(context: ChannelHandlerContext) {
        if !session.isEstablished {
            switch session.handshake() {
            case .done:
                handshakeSettled = true
                handshake.succeed(())
                for (bytes, promise) in early { encrypt(bytes, promise: promise, context: context) }
                early = []
            case .wantRead:
                break
            case .closed:
                return fail(context: context, "\(server) ended the TLS handshake")
            case .failed(let reason):
                return fail(context: context, "TLS handshake with \(server) failed: \(reason)")
            }
        }
        if session.isEstablished {
            var read = false
            let outcome = session.read { plaintext in
                read = true
                var buffer = context.channel.allocator.buffer(capacity: plaintext.count)
                buffer.writeBytes(plaintext)
                context.fireChannelRead(wrapInboundOut(buffer))
            }
            if read { context.fireChannelReadComplete() }
            if case .failed(let reason) = outcome {
                context.fireErrorCaught(RPCClientError.network("TLS connection with \(server) failed: \(reason)"))
            }
        }
        sendCiphertext(context: context)
    }

    private func encrypt(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        let outcome = bytes.withUnsafeReadableBytes { session.write($0) }
        guard outcome == .done else {
            promise?.fail(RPCClientError.network("TLS connection with \(server) cannot send: \(outcome)"))
            return
        }
        if let promise { unflushed.append(promise) }
    }

    private func sendCiphertext(context: ChannelHandlerContext) {
        let promises = unflushed
        unflushed = []
        guard let ciphertext = session.takeCiphertext() else {
            promises.forEach { $0.succeed(()) }
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        for promise in promises { written.futureResult.cascade(to: promise) }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: ciphertext)), promise: written)
    }

    private func fail(context: ChannelHandlerContext?, _ reason: String) {
        guard !handshakeSettled else { return }
        handshakeSettled = true
        let error = RPCClientError.network(reason)
        handshake.fail(error)
        for (_, promise) in early { promise?.fail(error) }
        early = []
        if let context {
            sendCiphertext(context: context)  // the alert that says why, if any
            context.close(promise: nil)
        }
    }
}
