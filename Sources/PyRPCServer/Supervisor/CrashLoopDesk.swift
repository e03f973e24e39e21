import CLinux
import Foundation
import NIOCore
import PyRPCTLS
import PyRPCWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's own answers while a crash loop leaves its server with no worker (the
/// deployed state kills every worker as it loads: a script that segfaults at import once some
/// file or package changed). Clients would otherwise wait in the listen queue for nothing, and
/// neither `pyrpc stats` nor the `pyrpc deploy` that fixes the script could reach the server.
/// So the supervisor then takes connections itself, runs no Python, and answers: STATS-REQ
/// with the server's statistics (the crash loop, how the workers died), a deploy by applying it
/// at once, anything else `Server Busy` saying why. Once a worker is ready it takes new
/// connections again, and the desk closes its idle ones (the client reconnects to a worker).
/// Messages are framed like the workers' (`LineFramer`, `--max-message-bytes`).
final class CrashLoopDesk: Sendable {
    private let listener: Int32
    private let maxMessageBytes: Int
    private let workers: WorkerSet
    /// Why no worker serves (the message for `Server Busy`); nil while a worker does.
    private let unattended: @Sendable () -> String?
    /// The answer to STATS-REQ, DEPLOY-MANIFEST or DEPLOY-SCRIPTS from a peer.
    private let answerAdmin: @Sendable (Envelope, Peer) -> [UInt8]
    /// The server speaks TLS: so does the desk.
    private let tls: TLSContext?
    /// The supervisor's own metrics board: the desk's connections and answers count there.
    private let board: MetricsBoard
    private let stopped = Atomic<Bool>(false)

    init(
        listener: Int32, maxMessageBytes: Int, tls: TLSContext?, workers: WorkerSet, board: MetricsBoard,
        unattended: @escaping @Sendable () -> String?, answerAdmin: @escaping @Sendable (Envelope, Peer) -> [UInt8]
    ) {
        self.listener = listener
        self.board = board
        self.tls = tls
        self.maxMessageBytes = maxMessageBytes
        self.workers = workers
        self.unattended = unattended
        self.answerAdmin = answerAdmin
    }

    func start() {
        let thread = Thread { [self] in
            pyrpc_name_thread("crash-loop desk")
            watch()
        }
        thread.start()
    }

    /// Ends the desk once the supervisor marks its workers stopping (which wakes `watch`).
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func watch() {
        while !stopped.load(ordering: .relaxed) {
            // Asleep until a crash loop leaves no worker ready (or the server stops).
            _ = workers.wait(until: nil) { $0.unattended || $0.stopping ? true : nil }
            if workers.stopping { return }
            // Accepting while the loop lasts; the 100 ms bound re-checks that it still does.
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0, unattended() != nil else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            // The listener is non-blocking: a worker that took the connection first leaves EAGAIN.
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept4(listener, $0, &length, Int32(SOCK_CLOEXEC.rawValue)) }
            }
            guard fd >= 0 else { continue }
            let peer = Sockets.describe(storage).map { HostAddresses.normalize($0.ip) } ?? "?"
            let connection = Thread { [self] in serve(fd, peer: peer) }
            connection.start()
        }
    }

    /// Answers the messages of one connection, in order, until the client closes it, it stays
    /// idle for 30 s, or a worker serves again while it is idle.
    private func serve(_ fd: Int32, peer: String) {
        board.connectionOpened()
        defer {
            close(fd)
            board.connectionClosed()
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let session: TLSStream?
        do {
            session = try tls.map { context throws(TLSError) in try TLSStream(context: context, fd: fd) }
        } catch {
            return
        }
        defer { session?.shutdown() }
        let socket = DeskSocket(fd: fd, tls: session)
        var framer = LineFramer(maxBytes: maxMessageBytes)
        // JSON lines or MessagePack frames, as the first byte chooses (`WireEncoding`).
        var encoding: WireEncoding?
        var buffer = ByteBuffer()
        var idleSeconds = 0
        // Known once data arrived: over TLS, the handshake (and the certificate) came first.
        var caller: Peer?
        while true {
            var received = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 65536) { space in
                received = socket.receive(into: space)
                return max(0, received)
            }
            if received < 0 {
                guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return }
                idleSeconds += 1
                if idleSeconds >= 30 || (buffer.readableBytes == 0 && unattended() == nil) { return }
                continue
            }
            idleSeconds = 0
            let asker = caller ?? socket.peer(at: peer)
            caller = asker
            if encoding == nil, let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
                encoding = WireEncoding.chosen(by: first)
                guard encoding != nil else {
                    board.unnamed(.badRequest)
                    return socket.send(RPCReply.exception(.badRequest(WireEncoding.refusal(firstByte: first))))
                }
                if encoding == .messagePack { buffer.moveReaderIndex(forwardBy: 1) }
            }
            if encoding == .messagePack {
                guard answerMessagePack(&buffer, ended: received == 0, peer: asker, on: socket) else { return }
                buffer.discardReadBytes()
                continue
            }
            if received == 0 {
                // Half-closed: a last message without its newline is still answered (SPEC §2).
                for frame in framer.finish(&buffer) { socket.send(answer(frame, peer: asker)) }
                return
            }
            while let frame = framer.next(from: &buffer) { socket.send(answer(frame, peer: asker)) }
            buffer.discardReadBytes()
        }
    }

    /// Answers the whole MessagePack frames in `buffer`; false once the connection is to close
    /// (a frame over the limit, or the input ended).
    private func answerMessagePack(_ buffer: inout ByteBuffer, ended: Bool, peer: Peer, on socket: DeskSocket) -> Bool {
        while true {
            switch buffer.withUnsafeReadableBytes({ MessagePackFrame.next(in: $0, maxBytes: maxMessageBytes) }) {
            case .incomplete:
                if ended, buffer.readableBytes > 0 {
                    board.unnamed(.badRequest)
                    socket.send(IOLoop.messagePack(RPCReply.exception(IOLoop.cutFrame(held: buffer.readableBytes))))
                }
                return !ended
            case .oversize(let length):
                board.unnamed(.badRequest)
                socket.send(IOLoop.messagePack(RPCReply.exception(IOLoop.frameTooLarge(length, limit: maxMessageBytes))))
                return false
            case .complete(let body):
                let read: Result<Envelope, RPCError> = buffer.withUnsafeReadableBytes { bytes in
                    Result { () throws(RPCError) -> Envelope in try Envelope(messagePack: UnsafeRawBufferPointer(rebasing: bytes[body])) }
                }
                buffer.moveReaderIndex(forwardBy: body.upperBound)
                switch read {
                case .success(let envelope): socket.send(IOLoop.messagePack(answer(envelope, peer: peer)))
                case .failure(let error):
                    board.unnamed(.badRequest)
                    socket.send(IOLoop.messagePack(RPCReply.exception(error)))
                }
            }
        }
    }

    private func answer(_ frame: Frame, peer: Peer) -> [UInt8] {
        switch frame {
        case .oversize(let limit):
            board.unnamed(.badRequest)
            return RPCReply.exception(ServerCore.tooLarge(limit: limit))
        case .message(let line):
            do throws(RPCError) {
                return answer(try Envelope(message: try Self.parse(Array(line.readableBytesView))), peer: peer)
            } catch {
                board.unnamed(.badRequest)
                return RPCReply.exception(error)
            }
        }
    }

    private func answer(_ envelope: Envelope, peer: Peer) -> [UInt8] {
        switch envelope.header {
        case Header.statsRequest, Header.deployManifest, Header.deployPieces, Header.deployScripts:
            return answerAdmin(envelope, peer)
        default:
            let reason = unattended() ?? "its workers are starting again; retry in a moment"
            // No generation here to name the rpc by: counted without labels.
            if envelope.header == Header.rpcRequest { board.unnamed(.serverBusy) }
            return RPCReply.exception(RPCError(.serverBusy, reason, id: envelope.value["id"]))
        }
    }

    private static func parse(_ line: [UInt8]) throws(RPCError) -> JSONValue {
        do {
            return try JSONParser.parse(line)
        } catch {
            throw RPCError.badRequest("not JSON: \(error)")
        }
    }

}

/// A desk connection's socket, blocking with 1 s timeouts: plain, or through its TLS session.
private struct DeskSocket {
    let fd: Int32
    let tls: TLSStream?

    /// Who is at `address`, with the names of their verified certificate, if any.
    func peer(at address: String) -> Peer {
        Peer(address: address, certificate: tls?.peerNames ?? [])
    }

    /// Bytes read, 0 at the end, -1 with errno (EAGAIN: the timeout passed).
    func receive(into space: UnsafeMutableRawBufferPointer) -> Int {
        guard let tls else { return recv(fd, space.baseAddress, space.count, 0) }
        switch tls.read(into: space) {
        case .bytes(let count): return count
        case .wantRead, .wantWrite:
            errno = EAGAIN
            return -1
        case .closed: return 0
        case .failed, .truncated:
            errno = EPROTO
            return -1
        }
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written: Int
            if let tls {
                guard case .bytes(let count) = bytes[offset...].withUnsafeBytes({ tls.write($0) }) else { return }
                written = count
            } else {
                written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            guard written > 0 else { return }
            offset += written
        }
    }
}
