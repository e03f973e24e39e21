#if canImport(Glibc)
import Glibc
#endif
import CLinux
import NIOCore
import PyRPCPython
import PyRPCWire

/// The loop's part of the server's limits: the buffer budget, the message timeout, and
/// giving memory back after big messages.
extension IOLoop {
    /// A released buffer at least this big makes the loop return free memory to the system.
    static let trimWorthyBytes = 1 << 20
    static let countedOutputBytes = 64 << 10

    /// Counts what `connection` holds now in the server's buffer budget; past the budget,
    /// the connections of this loop that hold the most are refused until it fits again.
    func account(_ connection: Connection, startingMessage: Bool = false) {
        // Small answers waiting a moment are not worth an atomic add per call: output counts
        // once it is big (a client that does not read).
        let output = connection.unwrittenBytes
        let holds = (connection.inbound?.readableBytes ?? 0) + (output >= Self.countedOutputBytes ? output : 0)
        if startingMessage {
            if connection.inbound == nil {
                connection.messageStarted = nil
            } else if connection.messageStarted == nil {
                connection.messageStarted = .now
            }
        }
        let over = core.limits.buffer(holds, insteadOf: connection.accountedBytes)
        connection.accountedBytes = holds
        if over { shedLargest() }
    }

    private func shedLargest() {
        let largest = connections.compactMap { $0 }.filter { !$0.isClosed && $0.accountedBytes > 0 }
            .sorted { $0.accountedBytes > $1.accountedBytes }
        for connection in largest {
            guard core.limits.isOverBudget else { return }
            core.limits.refused(.maxBufferedBytes, "connections holding the most of --max-buffered-bytes \(core.limits.maxBufferedBytes)")
            refuse(connection, "the server's buffers are full (--max-buffered-bytes \(core.limits.maxBufferedBytes)) and this connection held the most (\(connection.accountedBytes) bytes); send smaller messages or read your answers")
        }
    }

    /// Answers `Bad Request` (best effort, without waiting) and closes.
    func refuse(_ connection: Connection, _ message: String) {
        let json = RPCReply.exception(.badRequest(message))
        let reply = connection.encoding == .messagePack ? Self.messagePack(json) : json
        _ = reply.withUnsafeBytes { transmit(connection, $0) }
        close(connection)
    }

    /// Refuses connections whose current message has been arriving for longer than the
    /// message timeout (a slowloris client). Idle connections are the idle sweep's.
    func expireSlowMessages(now: Moment) {
        let limit = core.options.messageTimeout
        for case let connection? in connections where !connection.isClosed {
            guard let started = connection.messageStarted, now.seconds(since: started) > limit else { continue }
            core.limits.refused(.messageTimeout, "messages not complete within --message-timeout \(ServerCore.formatSeconds(core.options.messageTimeout)) s")
            refuse(connection, "the message did not arrive whole within \(ServerCore.formatSeconds(core.options.messageTimeout)) s (--message-timeout)")
        }
    }

    /// Gives freed heap memory back to the system, at most once a second: the server keeps big
    /// blocks in its heap for speed (see `pyrpc_tune_malloc`), so without this a burst of huge
    /// messages would keep its memory after they are gone.
    func trimIfPending(now: Moment) {
        guard trimPending, now.seconds(since: lastTrim) >= 1 else { return }
        trimPending = false
        lastTrim = now
        pyrpc_malloc_trim()
    }
}
