import CLinux
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// One end of a supervisor–worker socket pair: `ControlMessage`s as JSON lines. Any thread may
/// send; one thread reads (`ControlReader`). Control traffic is a few messages per deploy or
/// worker start, never per call, so Foundation's coders are fast enough.
final class ControlChannel: Sendable {
    let fd: Int32
    private let writing = NIOLock()

    init(fd: Int32) {
        self.fd = fd
    }

    /// False when the other end is gone. A message carrying a connection (`handOver`,
    /// `adopt`) takes its descriptor along (SCM_RIGHTS, on the message's first bytes); the
    /// sender still closes its own copy.
    @discardableResult
    func send(_ message: ControlMessage) -> Bool {
        guard var bytes = try? JSONEncoder().encode(message) else { return false }
        bytes.append(UInt8(ascii: "\n"))
        var descriptor = message.transfer?.descriptor ?? -1
        return writing.withLock {
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let start = buffer.baseAddress! + offset
                    let written = descriptor >= 0
                        ? pyrpc_send_with_fd(fd, start, buffer.count - offset, descriptor)
                        : Glibc.send(fd, start, buffer.count - offset, Int32(MSG_NOSIGNAL))
                    if written < 0, errno == EINTR { continue }
                    if written <= 0 { return false }
                    descriptor = -1
                    offset += written
                }
                return true
            }
        }
    }

    /// Wakes the reader (its next read sees the end) without closing the descriptor under it.
    func hangUp() {
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// Reads a channel's messages, on the one thread that owns it, framed by the same
/// `LineFramer` as the clients' wire.
struct ControlReader {
    let channel: ControlChannel
    private var buffer = ByteBuffer()
    private var framer = LineFramer(maxBytes: ControlReader.maxMessageBytes)
    /// Descriptors received, waiting for the messages they came with to be complete (one per
    /// `handOver` or `adopt`, in order).
    private var descriptors: [Int32] = []
    /// The longest is a client's DEPLOY-SCRIPTS or DEPLOY-PIECES forwarded (at most
    /// --max-message-bytes, escaped again; a deploy's prepared scripts go through the state
    /// directory); a longer one only a different pyrpc version would send.
    static let maxMessageBytes = 1 << 30

    init(_ channel: ControlChannel) {
        self.channel = channel
    }

    /// The next message; nil when the other end closed (or sent something unreadable, which
    /// only a different pyrpc version would).
    mutating func next() -> ControlMessage? {
        while true {
            switch framer.next(from: &buffer) {
            case .message(let line)?:
                guard let message = try? JSONDecoder().decode(ControlMessage.self, from: Data(line.readableBytesView)) else {
                    return end()
                }
                guard message.transfer != nil else { return message }
                return message.with(descriptor: descriptors.isEmpty ? -1 : descriptors.removeFirst())
            case .oversize?:
                return end()
            case nil:
                buffer.discardReadBytes()
                var received = 0
                var passed = [Int32](repeating: -1, count: 16)
                var passedCount: Int32 = 0
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 65536) { space in
                    received = pyrpc_receive_with_fds(channel.fd, space.baseAddress, space.count, &passed, 16, &passedCount)
                    return max(0, received)
                }
                descriptors += passed.prefix(Int(passedCount))
                if received < 0, errno == EINTR { continue }
                if received <= 0 { return end() }
            }
        }
    }

    /// The end: descriptors whose messages never came whole are closed.
    private mutating func end() -> ControlMessage? {
        for fd in descriptors { close(fd) }
        descriptors = []
        return nil
    }
}
