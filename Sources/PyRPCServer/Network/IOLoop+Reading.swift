#if canImport(Glibc)
import Glibc
#endif
import CLinux
import NIOCore
import PyRPCWire
import Synchronization

/// Taking bytes in: accepting connections, reading, framing messages a turn at a time.
extension IOLoop {
    /// `all`: every connection waiting, whoever shares the listener.
    func acceptConnections(from listener: Int32, all: Bool = false) {
        assertLeads()
        // A worker process sharing the listener with others takes one connection per wake-up,
        // so that a burst of connections spreads over the workers instead of all going to
        // whichever woke first (the listener stays readable while more wait).
        for _ in 0..<(all ? Int.max : core.role.siblings > 0 ? 1 : 64) {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let accepted = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listener, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            // Never on 0-2 (a script may have closed stdout), and closed in forked children.
            let fd = pyrpc_fd_above_stdio(accepted)
            guard fd >= 0 else {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EAGAIN, EINVAL, EBADF: return  // drained, or the listener stopped
                case EMFILE, ENFILE:
                    shedConnection(from: listener)
                    return
                default:
                    core.logger.warning("cannot accept a connection: \(String(cString: strerror(errno)))")
                    return
                }
            }
            let peer = peers.name(of: storage)
            if core.limits.admit(peer) != nil {
                Glibc.close(fd)  // over a connection limit: closed at once, counted, logged once a second
                continue
            }
            if core.logsDebug, let address = Sockets.describe(storage) {
                core.logger.debug("connection from \(Sockets.endpoint(address.ip, address.port, isIPv6: address.isIPv6))")
            }
            let connection = insert(fd, peer: peer)
            guard startTLS(on: connection) else { continue }
            if connection.tls == nil, !handingOver {
                // By the time a connection is accepted its client has usually sent its request
                // (and a one-shot client its end of input too): read now rather than after a
                // turn through epoll. A one-shot connection then never enters the epoll set: it
                // waits only for its answer, and the write path registers it if the socket
                // fills up. When nothing has arrived yet, one read that finds nothing is the cost.
                read(connection, toTheEnd: true)
                if connection.isClosed || connection.inEpoll || connection.inputClosed { continue }
            }
            updateInterest(connection)
        }
    }

    /// A new connection on `fd` (admitted by the limits), numbered and in the table; the
    /// caller puts it in the epoll set.
    func insert(_ fd: Int32, peer: String, skippingOversize: Bool = false) -> Connection {
        pyrpc_fd_mark(fd)
        serial = (serial + 1) & 0x7fff_ffff
        let connection = Connection(
            id: serial << 32 | UInt64(UInt32(bitPattern: fd)), fd: fd, peer: peer,
            // A memory holds its request's decision, made for that connection's certificate:
            // over TLS it is never handed to another connection (the next one from the same
            // address may present another certificate).
            memo: core.tls == nil ? peers.takeMemo(for: peer, generation: core.memoEpoch) : RequestMemo(),
            maxMessageBytes: core.options.maxMessageBytes, epoch: idle.epoch)
        if skippingOversize { connection.framer = LineFramer(maxBytes: core.options.maxMessageBytes, skipping: true) }
        let slot = Int(fd)
        if slot >= connections.count { connections += repeatElement(nil, count: slot + 1 - connections.count) }
        connections[slot] = connection
        openConnections.add(1, ordering: .relaxed)
        return connection
    }

    /// Out of file descriptors: accepts the waiting connection with the spare descriptor and
    /// closes it (the client sees the connection closed), so the listener does not stay
    /// readable and spin the loop. Warns at most once a second.
    func shedConnection(from listener: Int32) {
        let reason = String(cString: strerror(errno))
        if spareFD >= 0 {
            Glibc.close(spareFD)
            let fd = accept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            if fd >= 0 { Glibc.close(fd) }
            spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }
        let now = ContinuousClock.now
        if now - lastDescriptorWarning >= .seconds(1) {
            lastDescriptorWarning = now
            core.logger.warning("out of file descriptors (\(reason)): closing new connections at once; raise the limit (ulimit -n) or lower the number of clients")
        }
    }

    /// `toTheEnd`: after a short read, reads again to see whether the input has ended too (a
    /// new connection's first read: a one-shot client's end of input follows its request).
    func read(_ connection: Connection, toTheEnd: Bool = false) {
        assertLeads()
        connection.lastActivity = idle.epoch
        // A partial message keeps growing in the connection's own buffer; otherwise read into
        // the loop's scratch buffer and keep only what is left of a line.
        let own = connection.inbound != nil
        var buffer = own ? connection.inbound.take()! : scratch.take()!
        defer {
            if own {
                if !connection.isClosed, buffer.readableBytes > 0 {
                    connection.inbound = buffer
                } else if buffer.capacity >= Self.trimWorthyBytes {
                    trimPending = true  // a big message's buffer is gone: give the memory back
                }
            } else {
                if !connection.isClosed, buffer.readableBytes > 0 {
                    var rest = ByteBufferAllocator().buffer(capacity: max(buffer.readableBytes * 2, 4096))
                    rest.writeBuffer(&buffer)
                    connection.inbound = rest
                }
                buffer.clear()
                scratch = buffer
            }
            // A TLS handshake under way is a message arriving (`startTLS`).
            if !connection.isClosed, connection.tls?.isEstablished != false { account(connection, startingMessage: true) }
        }
        for _ in 0..<16 {
            var result = 0
            var failure: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.readSize) { space in
                (result, failure) = receive(connection, into: space)
                return max(result, 0)
            }
            if result > 0 {
                let filled = buffer.writableBytes == 0
                frame(&buffer, of: connection)
                // A short read drained the socket, unless TLS read ahead and holds more records.
                if connection.isClosed || connection.paused || (!filled && !toTheEnd && !(connection.tls?.hasPending ?? false)) { return }
                if buffer.readableBytes > 0 { buffer.discardReadBytes() }
                continue
            }
            if result == 0 {
                endOfInput(connection, rest: &buffer)
                return
            }
            switch failure {
            case EINTR: continue
            case EAGAIN: return
            case EPROTO:
                close(connection)  // a TLS failure, reported where it happened (`IOLoop+TLS`)
                return
            default:
                close(connection, failure: failure)
                return
            }
        }
    }

    func frame(_ buffer: inout ByteBuffer, of connection: Connection) {
        if connection.encoding == nil, !chooseEncoding(&buffer, of: connection) { return }
        while messagesThisTurn < Self.messagesPerTurn {
            let next = connection.encoding == .messagePack ? nextMessagePackFrame(&buffer, of: connection) : connection.framer.next(from: &buffer)
            guard let frame = next else { return }
            messagesThisTurn += 1
            answer(frame, on: connection)
            if connection.isClosed { return }
        }
        // Out of messages for this turn: keep the rest for the next one, and stop reading.
        guard buffer.readableBytes > 0, !connection.paused else { return }
        connection.paused = true
        paused.append(connection)
        updateInterest(connection)
    }

    /// Frames what paused connections hold, as far as this turn's allowance goes.
    func resumePaused() {
        assertLeads()
        let waiting = paused
        paused = []
        for connection in waiting where !connection.isClosed {
            connection.paused = false
            guard var buffer = connection.inbound.take() else {
                updateInterest(connection)
                continue
            }
            frame(&buffer, of: connection)
            if !connection.isClosed, buffer.readableBytes > 0 { connection.inbound = buffer }
            if !connection.paused { updateInterest(connection) }
        }
    }

    /// Answers one message, read in `encoding` (the connection's, unless it is a request
    /// another worker gave back, which is JSON).
    func answer(_ frame: Frame, on connection: Connection, encoding: WireEncoding? = nil) {
        assertLeads()
        let sequence = connection.nextSequence()
        let route = ReplyRoute(loop: self, connection: connection.id, sequence: sequence)
        let reply: [UInt8]?
        if (encoding ?? connection.encoding) == .messagePack, case .message(let body) = frame {
            reply = core.answer(messagePack: body, from: connection.caller, sink: route, memo: connection.memo)
        } else {
            reply = core.answer(frame, from: connection.caller, sink: route, memo: connection.memo)
        }
        if let reply {
            deliver(reply, sequence: sequence, to: connection)
        }
    }

    /// The client half-closed: its unterminated last line is a message (one-shot mode), and
    /// the connection closes once every answer is written.
    func endOfInput(_ connection: Connection, rest buffer: inout ByteBuffer) {
        connection.inputClosed = true
        if connection.encoding == .messagePack {
            endOfMessagePackInput(connection, rest: &buffer)
        } else {
            for frame in connection.framer.finish(&buffer) { answer(frame, on: connection) }
        }
        // Owing nothing, it closes at once: closing leaves the epoll set, so telling epoll
        // first that it reads no more would be a system call for nothing (a one-shot call's
        // answer has usually gone out before its client's end of input is read). Outside the
        // set (read as it was accepted) it only waits for its answers.
        if connection.isFinished {
            close(connection)
        } else if connection.inEpoll {
            updateInterest(connection)
        }
    }
}
