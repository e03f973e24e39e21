#if canImport(Glibc)
import Glibc
#endif
import CLinux
import NIOCore
import Synchronization

/// Sending answers out, and the connections' life: epoll interest, closing, idle sweeps.
extension IOLoop {
    func deliver(_ reply: [UInt8], sequence: Int, to connection: Connection) {
        assertLeads()
        connection.lastActivity = idle.epoch
        let reply = connection.encoding == .messagePack ? Self.messagePack(reply) : reply
        if connection.deliver(reply, sequence: sequence), !connection.isDirty {
            connection.isDirty = true
            dirty.append(connection)
        }
        if connection.unwrittenBytes >= Self.countedOutputBytes { account(connection) }
    }

    /// Writes the answers delivered since the last call: one write per connection however
    /// many answers it got.
    func flushDirty() {
        assertLeads()
        guard !dirty.isEmpty else { return }
        for connection in dirty {
            connection.isDirty = false
            if !connection.isClosed { write(connection) }
        }
        dirty.removeAllKeepingStorage()
    }

    func write(_ connection: Connection) {
        assertLeads()
        // Whatever the outcome, the budget sees what is left unwritten (only big output counts).
        defer { if !connection.isClosed, connection.accountedBytes != 0 || connection.unwrittenBytes >= Self.countedOutputBytes { account(connection) } }
        while connection.hasOutput {
            let (written, failure) = connection.output.withUnsafeBytes { bytes in
                transmit(connection, UnsafeRawBufferPointer(rebasing: bytes[connection.outputOffset...]))
            }
            if written > 0 {
                connection.wrote(written)
                continue
            }
            if failure == EINTR { continue }
            if failure == EAGAIN {
                let throttle = connection.unwrittenBytes > Self.maxUnwritten
                if !connection.wantsWritable || throttle != connection.throttled {
                    connection.wantsWritable = true
                    connection.throttled = throttle
                    updateInterest(connection)
                }
                return
            }
            close(connection, failure: failure)
            return
        }
        // Owing nothing more, it closes, which also leaves the epoll set: no interest to change first.
        if connection.isFinished {
            close(connection)
            return
        }
        if connection.wantsWritable || connection.throttled {
            connection.wantsWritable = false
            connection.throttled = false
            updateInterest(connection)
        }
    }

    // MARK: Connections

    /// Tells epoll what to watch the connection for, putting it in the set if it is not there
    /// yet (`acceptConnections` reads a new connection before it is).
    func updateInterest(_ connection: Connection) {
        var event = epoll_event()
        let reading = !connection.inputClosed && !connection.throttled && !connection.paused && !handingOver
        event.events = (reading ? EPOLLIN.rawValue : 0) | (connection.wantsWritable ? EPOLLOUT.rawValue : 0)
        event.data.u64 = connection.id
        _ = epoll_ctl(epollFD, connection.inEpoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, connection.fd, &event)
        connection.inEpoll = true
    }

    func connection(_ id: UInt64) -> Connection? {
        let slot = Int(id & 0xffff_ffff)
        guard slot < connections.count, let connection = connections[slot], connection.id == id else { return nil }
        return connection
    }

    func close(_ connection: Connection) {
        assertLeads()
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connections[Int(connection.fd)] = nil
        openConnections.subtract(1, ordering: .relaxed)
        pyrpc_fd_unmark(connection.fd)
        connection.tls?.shutdown()
        _ = Glibc.close(connection.fd)  // also leaves the epoll set
        core.limits.closed(connection.peer)
        if connection.accountedBytes >= Self.trimWorthyBytes { trimPending = true }
        _ = core.limits.buffer(0, insteadOf: connection.accountedBytes)
        connection.accountedBytes = 0
        if connection.tls == nil { peers.keep(connection.memo, for: connection.peer, generation: core.memoEpoch) }
    }

    /// Closes a connection whose socket failed (reset by the client, say), and says so.
    func close(_ connection: Connection, failure: Int32) {
        core.logger.info("connection from \(connection.peer) failed: \(String(cString: strerror(failure)))")
        close(connection)
    }

    /// Closes connections that have had no traffic and no call in flight for the idle timeout.
    func sweep() {
        assertLeads()
        for case let connection? in connections where connection.isIdle && idle.isIdle(since: connection.lastActivity) {
            core.logger.info("closing idle connection from \(connection.peer)")
            close(connection)
        }
    }

    /// After `stop`: closes every connection; nobody leads again.
    func cleanUp() {
        assertLeads()
        stopAccepting()
        for case let connection? in connections { close(connection) }
        leadership.cleanedUp()
    }

    func register(_ fd: Int32, tag: UInt64, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = tag
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }
}
