import Foundation
import NIOCore
import PyRPCPython
import PyRPCTLS
import PyRPCWire

/// One client connection of an I/O loop, touched only by the loop's leader (see `IOLoop`).
///
/// It answers every message in the order received, even when calls finish out of order
/// (pipelining), and closes once the client has half-closed and every answer is written
/// (one-shot mode).
final class Connection {
    let id: UInt64
    let fd: Int32
    /// The client's IP address, as authorisation and the logs know it.
    let peer: String
    var framer: LineFramer
    /// JSON lines or MessagePack frames, as its first byte chose; nil before it came. Answers
    /// are delivered as JSON and written in this encoding (`IOLoop.deliver`).
    var encoding: WireEncoding?
    /// Its last small request, to read the next one like it by difference (left by the last
    /// connection from the same address, if any: see `PeerMemory`).
    let memo: RequestMemo
    /// Bytes received but not yet framed (part of a line); nil when there are none, so an
    /// idle connection holds no buffer.
    var inbound: ByteBuffer?
    /// Messages framed, and answers queued for writing, so far.
    private(set) var received = 0
    private(set) var sent = 0
    /// Answers that are ready but wait for an earlier one.
    private var waiting: [Int: [UInt8]] = [:]
    /// Requests that will not run here (the worker is dying): they go with the connection.
    var unrun: [Int: [UInt8]] = [:]
    /// Answers not yet written to the socket, from `outputOffset` on.
    private(set) var output: [UInt8] = []
    private(set) var outputOffset = 0
    var inputClosed = false
    /// EPOLLOUT is registered (the socket's send buffer filled up).
    var wantsWritable = false
    /// Not reading: the client sends faster than it reads its answers, and the unwritten
    /// answers passed the loop's limit. Reading resumes once they are written.
    var throttled = false
    /// Not reading: complete messages wait in `inbound` for the next turn, because the loop
    /// took as many messages as it takes per turn (see `IOLoop.messagesPerTurn`).
    var paused = false
    /// Queued on the loop's list of connections with output to write.
    var isDirty = false
    var isClosed = false
    /// In the loop's epoll set. A new connection is read before it is added, and one that
    /// then only waits for its answers is never added (see `IOLoop.acceptConnections`).
    var inEpoll = false
    /// Bytes it holds as counted in the server's buffer budget (`ConnectionLimits`).
    var accountedBytes = 0
    /// When the message now arriving (part of a line held in `inbound`) began: it must end
    /// within the message timeout.
    var messageStarted: Moment?
    /// The TLS session, on a server that speaks TLS (`IOLoop+TLS`).
    var tls: TLSStream?
    /// The names of the client's verified certificate, once the handshake is over.
    var certificate: [String] = []
    /// GOAWAY is queued: the connection closes once it is written (`IOLoop+HandOver`).
    var saidGoAway = false
    /// The loop's idle epoch at the last traffic (see `IdleClock`).
    var lastActivity: UInt64

    init(id: UInt64, fd: Int32, peer: String, memo: RequestMemo, maxMessageBytes: Int, epoch: UInt64) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.memo = memo
        framer = LineFramer(maxBytes: maxMessageBytes)
        lastActivity = epoch
    }

    /// Who is at the other end, for authorization.
    var caller: Peer { Peer(address: peer, certificate: certificate) }

    /// Every message has been answered and the answers handed to `output`.
    var isIdle: Bool { sent == received }
    var hasOutput: Bool { outputOffset < output.count }
    var unwrittenBytes: Int { output.count - outputOffset }
    /// Nothing left to do: the client half-closed and everything is written.
    var isFinished: Bool { inputClosed && isIdle && !hasOutput }

    /// Numbers the next message; its answer must be delivered with this sequence.
    func nextSequence() -> Int {
        defer { received += 1 }
        return received
    }

    /// Takes the answer to message `sequence`; returns true if output became writable.
    func deliver(_ reply: [UInt8], sequence: Int) -> Bool {
        guard sequence == sent else {
            waiting[sequence] = reply  // an earlier answer is still missing
            return false
        }
        append(reply)
        sent += 1
        while !waiting.isEmpty, let next = waiting.removeValue(forKey: sent) {
            append(next)
            sent += 1
        }
        return true
    }

    /// A message of the server's own, after every answer queued so far (GOAWAY).
    func append(_ reply: [UInt8]) {
        if output.isEmpty {
            output = reply  // no copy: a megabyte answer is written from its own array
        } else {
            output.append(contentsOf: reply)
        }
    }

    /// What it owes its client, in order, for another worker to take over: the unwritten
    /// output, then each unanswered message's answer or unrun request; nil while some call
    /// of it is still in flight.
    func owed() -> [ConnectionTransfer.Item]? {
        var items: [ConnectionTransfer.Item] = []
        if hasOutput { items.append(.answer(Data(output[outputOffset...]))) }
        for sequence in sent..<received {
            if let answer = waiting[sequence] {
                items.append(.answer(Data(answer)))
            } else if let request = unrun[sequence] {
                items.append(.request(Data(request)))
            } else {
                return nil
            }
        }
        return items
    }

    /// `count` more bytes were written.
    func wrote(_ count: Int) {
        outputOffset += count
        if outputOffset == output.count {
            output = []
            outputOffset = 0
        }
    }
}
