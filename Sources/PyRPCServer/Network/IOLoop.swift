#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Foundation
import Logging
import NIOCore
import PyRPCPython
import Synchronization

/// An epoll set of listeners and connections, served by one leading thread at a time (see
/// `Leadership`): it accepts, reads, frames and answers messages, runs the calls it read with
/// the GIL, and writes the answers, all on one thread when calls are quick.
///
/// The state below `leader-only` is touched only by the thread that leads; leadership passes
/// through a mutex, which orders those accesses.
final class IOLoop: @unchecked Sendable {
    let core: ServerCore
    let mailbox = Mailbox()
    let leadership: Leadership
    private let epollFD: Int32
    private let stopRequested = Atomic<Bool>(false)
    /// Listening sockets in the epoll set (the server closes them).
    private let listenerFDs = Mutex<[Int32]>([])
    private let threadName: String

    // Leader-only.
    /// Open connections by file descriptor: no hashing per event.
    private var connections: [Connection?] = []
    private var openCount = 0
    /// Numbers connections, so that an answer for a closed connection never reaches a new
    /// one that got the same descriptor: a connection's id is its serial and its descriptor.
    private var serial: UInt64 = 0
    private var dirty: [Connection] = []
    /// Connections paused with complete messages in their buffer, to frame next turn.
    private var paused: [Connection] = []
    private var messagesThisTurn = 0
    private var idle: IdleClock
    /// Where reads land when a connection has no partial message: small requests are framed
    /// straight from here and need no buffer of their own.
    private var scratch: ByteBuffer?
    private let events: UnsafeMutablePointer<epoll_event>
    /// A descriptor kept in reserve: out of descriptors, it is freed to accept and at once
    /// close a connection, rather than leave it pending and the listener readable forever.
    private var spareFD: Int32 = -1
    private var lastDescriptorWarning = ContinuousClock.now - .seconds(10)
    /// Unwritten answers a connection may pile up before the loop stops reading from it.
    /// (An answer bigger than this is still written whole; only reading waits.)
    static let maxUnwritten = 1 << 20

    private static let maxEvents: Int32 = 64
    private static let wakeTag: UInt64 = 0
    private static let listenerTag: UInt64 = 1 << 63
    private static let readSize = 64 << 10
    /// How many calls a leader runs before it looks at its sockets again. (A call that takes
    /// long is not waited for: the watchdog hands the sockets to another thread.)
    private static let callsPerTurn = 64
    /// How many messages a leader takes in before it runs them. A client pipelining
    /// thousands of requests is served a turn at a time instead of filling the call queue
    /// (which answers `Server Busy` when full) in one read.
    static let messagesPerTurn = 64

    init(core: ServerCore, index: Int) {
        self.core = core
        threadName = "pyrpc-io\(index)"
        leadership = Leadership(maxThreads: core.options.pythonWorkers + 1)
        idle = IdleClock(timeout: core.options.idleTimeout)
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        scratch = ByteBufferAllocator().buffer(capacity: Self.readSize)
        events = .allocate(capacity: Int(Self.maxEvents))
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        register(mailbox.wakeFD, tag: Self.wakeTag, events: EPOLLIN.rawValue)
        if leadership.admitThread() { startThread() }
    }

    deinit {
        if spareFD >= 0 { Glibc.close(spareFD) }
        events.deallocate()
        Glibc.close(epollFD)
    }

    // MARK: Other threads

    /// Accepts connections from the listening socket `fd` (shared by every loop of a server).
    func addListener(_ fd: Int32) {
        listenerFDs.withLock { $0.append(fd) }
        register(fd, tag: Self.listenerTag | UInt64(UInt32(bitPattern: fd)), events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue)
    }

    /// Stops accepting: the listeners leave the epoll set. (The server also shuts them down,
    /// so new connections are refused, and closes them only after the loops stopped, so their
    /// numbers cannot be reused while an event for them may still be in hand.)
    func stopAccepting() {
        for fd in listenerFDs.withLock({ fds in defer { fds = [] }; return fds }) {
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        }
    }

    /// Closes every connection and lets the threads end (threads running a call finish it
    /// first). Waits up to `wait` for the connections to be closed.
    func stop(wait: Duration) async {
        stopRequested.store(true, ordering: .releasing)
        leadership.stop()
        mailbox.post(.wake)
        // Nobody leads (every thread is in Python): close the connections from here.
        if leadership.tryAcquire() {
            cleanUp()
        }
        let deadline = ContinuousClock.now + wait
        while !leadership.isCleanedUp, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Called by the pool's monitor every millisecond while calls run: if the leader has been
    /// in Python too long, wakes or starts a thread to lead instead.
    func handOverIfStuck() {
        switch leadership.handoverIfStuck(now: .now) {
        case .none: break
        case .wake(let standby): standby.signal()
        case .startThread: startThread()
        }
    }

    // MARK: Threads

    private func startThread() {
        let thread = Thread { [self] in threadMain() }
        thread.stackSize = 16 << 20  // calls run here too: deep recursion should hit RecursionError, not the guard page
        thread.start()
    }

    private func threadMain() {
        pyrpc_name_thread(threadName)
        let standby = DispatchSemaphore(value: 0)
        let pool = core.pool
        // Python calls run on this thread; without a slot (too many threads) a worker runs them.
        var guest: PythonWorkerPool.Guest?
        var triedGuest = false
        while leadership.acquire(standby: standby) {
            if !triedGuest {
                guest = pool.makeGuest()
                triedGuest = true
            }
            guard lead(runsPython: guest != nil) else {
                cleanUp()
                break
            }
            leadership.release()
            if let guest { pool.drain(as: guest, limit: Self.callsPerTurn) }
        }
        if let guest { pool.retire(guest) }
        leadership.threadExited()
    }

    /// Serves the sockets until calls wait for Python (true, when this thread runs them) or
    /// the loop stops (false).
    private func lead(runsPython: Bool) -> Bool {
        while true {
            if stopRequested.load(ordering: .acquiring) { return false }
            for item in mailbox.take() { handle(item) }
            flushDirty()
            if core.pool.pendingCount > 0 {
                if runsPython, leadership.mayStepDown { return true }
                core.pool.wakeIfIdle()
            }
            // A new turn: messages held back last turn first.
            messagesThisTurn = 0
            if !paused.isEmpty { resumePaused() }
            let now = ContinuousClock.now
            if idle.tick(now: now) { sweep() }
            let sleeps = paused.isEmpty && messagesThisTurn == 0 && mailbox.prepareToSleep()
            let count = epoll_wait(epollFD, events, Self.maxEvents, sleeps ? idle.millisecondsUntilSweep(now: now) : 0)
            if sleeps { mailbox.awake() }
            for index in 0..<Int(max(count, 0)) {
                handle(events[index])
            }
        }
    }

    // MARK: Events

    private func handle(_ event: epoll_event) {
        let tag = event.data.u64
        if tag == Self.wakeTag {
            mailbox.drainWakeups()
        } else if tag & Self.listenerTag != 0 {
            acceptConnections(from: Int32(bitPattern: UInt32(truncatingIfNeeded: tag)))
        } else if let connection = connection(tag) {
            let flags = event.events
            if flags & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                if connection.inputClosed {
                    // Reset by the peer after it half-closed: nobody is left to answer.
                    close(connection)
                    return
                }
                read(connection)
            }
            if flags & EPOLLOUT.rawValue != 0, !connection.isClosed { write(connection) }
        }
    }

    private func handle(_ item: Mailbox.Item) {
        switch item {
        case .reply(let id, let sequence, let bytes):
            // A connection closed meanwhile (the client went away) gets nothing.
            if let connection = connection(id) { deliver(bytes, sequence: sequence, to: connection) }
        case .wake:
            break
        }
    }

    private func acceptConnections(from listener: Int32) {
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listener, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
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
            let address = Sockets.describe(storage)
            serial = (serial + 1) & 0x7fff_ffff
            let connection = Connection(
                id: serial << 32 | UInt64(UInt32(bitPattern: fd)), fd: fd,
                peer: address.map { HostAddresses.normalize($0.ip) } ?? "?",
                maxMessageBytes: core.options.maxMessageBytes, epoch: idle.epoch)
            let slot = Int(fd)
            if slot >= connections.count { connections += repeatElement(nil, count: slot + 1 - connections.count) }
            connections[slot] = connection
            openCount += 1
            register(fd, tag: connection.id, events: EPOLLIN.rawValue)
            if core.logger.logLevel <= .debug, let address {
                core.logger.debug("connection from \(address.isIPv6 ? "[\(address.ip)]" : address.ip):\(address.port)")
            }
        }
    }

    /// Out of file descriptors: accepts the waiting connection with the spare descriptor and
    /// closes it (the client sees the connection closed), so the listener does not stay
    /// readable and spin the loop. Warns at most once a second.
    private func shedConnection(from listener: Int32) {
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

    // MARK: Reading

    private func read(_ connection: Connection) {
        connection.lastActivity = idle.epoch
        // A partial message keeps growing in the connection's own buffer; otherwise read into
        // the loop's scratch buffer and keep only what is left of a line.
        let own = connection.inbound != nil
        var buffer = own ? connection.inbound.take()! : scratch.take()!
        defer {
            if own {
                if !connection.isClosed, buffer.readableBytes > 0 { connection.inbound = buffer }
            } else {
                if !connection.isClosed, buffer.readableBytes > 0 {
                    var rest = ByteBufferAllocator().buffer(capacity: max(buffer.readableBytes * 2, 4096))
                    rest.writeBuffer(&buffer)
                    connection.inbound = rest
                }
                buffer.clear()
                scratch = buffer
            }
        }
        for _ in 0..<16 {
            var result = 0
            var failure: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.readSize) { space in
                result = Glibc.read(connection.fd, space.baseAddress, space.count)
                failure = result < 0 ? errno : 0
                return max(result, 0)
            }
            if result > 0 {
                let filled = buffer.writableBytes == 0
                frame(&buffer, of: connection)
                if connection.isClosed || connection.paused || !filled { return }
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
            default:
                core.logger.info("connection from \(connection.peer) failed: \(String(cString: strerror(failure)))")
                close(connection)
                return
            }
        }
    }

    private func frame(_ buffer: inout ByteBuffer, of connection: Connection) {
        while messagesThisTurn < Self.messagesPerTurn {
            guard let frame = connection.framer.next(from: &buffer) else { return }
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
    private func resumePaused() {
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

    private func answer(_ frame: Frame, on connection: Connection) {
        let sequence = connection.nextSequence()
        let route = ReplyRoute(loop: self, connection: connection.id, sequence: sequence)
        if let reply = core.answer(frame, from: connection.peer, route: route) {
            deliver(reply, sequence: sequence, to: connection)
        }
    }

    /// The client half-closed: its unterminated last line is a message (one-shot mode), and
    /// the connection closes once every answer is written.
    private func endOfInput(_ connection: Connection, rest buffer: inout ByteBuffer) {
        connection.inputClosed = true
        for frame in connection.framer.finish(&buffer) { answer(frame, on: connection) }
        updateInterest(connection)
        if connection.isFinished { close(connection) }
    }

    // MARK: Writing

    private func deliver(_ reply: [UInt8], sequence: Int, to connection: Connection) {
        connection.lastActivity = idle.epoch
        if connection.deliver(reply, sequence: sequence), !connection.isDirty {
            connection.isDirty = true
            dirty.append(connection)
        }
    }

    /// Writes the answers delivered since the last call: one write per connection however
    /// many answers it got.
    private func flushDirty() {
        guard !dirty.isEmpty else { return }
        for connection in dirty {
            connection.isDirty = false
            if !connection.isClosed { write(connection) }
        }
        dirty.removeAll(keepingCapacity: true)
    }

    private func write(_ connection: Connection) {
        while connection.hasOutput {
            let written = connection.output.withUnsafeBytes { bytes in
                send(connection.fd, bytes.baseAddress! + connection.outputOffset, bytes.count - connection.outputOffset,
                     Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if written > 0 {
                connection.wrote(written)
                continue
            }
            let failure = errno
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
            core.logger.info("connection from \(connection.peer) failed: \(String(cString: strerror(failure)))")
            close(connection)
            return
        }
        if connection.wantsWritable || connection.throttled {
            connection.wantsWritable = false
            connection.throttled = false
            updateInterest(connection)
        }
        if connection.isFinished { close(connection) }
    }

    // MARK: Connections

    private func updateInterest(_ connection: Connection) {
        var event = epoll_event()
        let reading = !connection.inputClosed && !connection.throttled && !connection.paused
        event.events = (reading ? EPOLLIN.rawValue : 0) | (connection.wantsWritable ? EPOLLOUT.rawValue : 0)
        event.data.u64 = connection.id
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, connection.fd, &event)
    }

    private func connection(_ id: UInt64) -> Connection? {
        let slot = Int(id & 0xffff_ffff)
        guard slot < connections.count, let connection = connections[slot], connection.id == id else { return nil }
        return connection
    }

    private func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connections[Int(connection.fd)] = nil
        openCount -= 1
        _ = Glibc.close(connection.fd)  // also leaves the epoll set
    }

    /// Closes connections that have had no traffic and no call in flight for the idle timeout.
    private func sweep() {
        guard openCount > 0 else { return }
        for case let connection? in connections where connection.isIdle && idle.isIdle(since: connection.lastActivity) {
            core.logger.info("closing idle connection from \(connection.peer)")
            close(connection)
        }
    }

    /// After `stop`: closes every connection; nobody leads again.
    private func cleanUp() {
        stopAccepting()
        for case let connection? in connections { close(connection) }
        leadership.cleanedUp()
    }

    private func register(_ fd: Int32, tag: UInt64, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = tag
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }
}
