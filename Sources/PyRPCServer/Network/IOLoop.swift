#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Foundation
import Logging
import NIOCore
import PyRPCPython
import Synchronization
import NIOConcurrencyHelpers

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
    let epollFD: Int32
    private let stopRequested = Atomic<Bool>(false)
    /// Listening sockets in the epoll set (the server closes them).
    private let listenerFDs = NIOLockedValueBox<[Int32]>([])
    /// Connections open in this loop, for a worker waiting to have handed them all over.
    let openConnections = Atomic<Int>(0)
    /// The leader has seen `.handOver`: it frames nothing more.
    let stoppedFraming = Atomic<Bool>(false)
    private let threadName: String

    // Leader-only (here and in IOLoop+Reading.swift, IOLoop+Writing.swift). Release builds
    // of this module skip Swift's run-time exclusivity checks (see Package.swift); debug
    // builds, and so the tests, check every access.
    /// Open connections by file descriptor: no hashing per event.
    var connections: [Connection?] = []
    /// Numbers connections, so that an answer for a closed connection never reaches a new
    /// one that got the same descriptor: a connection's id is its serial and its descriptor.
    var serial: UInt64 = 0
    var dirty: [Connection] = []
    /// Connections paused with complete messages in their buffer, to frame next turn.
    var paused: [Connection] = []
    var messagesThisTurn = 0
    /// The worker leaves: nothing more is read, and connections go to another worker as soon
    /// as they owe no call in flight (`IOLoop+HandOver.swift`).
    var handingOver = false
    var idle: IdleClock
    /// Where reads land when a connection has no partial message: small requests are framed
    /// straight from here and need no buffer of their own.
    var scratch: ByteBuffer?
    /// The clients served so far: address texts, and request memories for their next connections.
    var peers = PeerMemory()
    /// What the mailbox held, handled this turn (kept between turns for its capacity).
    private var inbox: [Mailbox.Item] = []
    private let events: UnsafeMutablePointer<epoll_event>
    /// A descriptor kept in reserve: out of descriptors, it is freed to accept and at once
    /// close a connection, rather than leave it pending and the listener readable forever.
    var spareFD: Int32 = -1
    var lastDescriptorWarning = ContinuousClock.now - .seconds(10)
    /// Memory to give back (a big buffer was released), and when it last was.
    var trimPending = false
    var lastTrim = Moment.now.advanced(bySeconds: -10)
    /// When to look for messages arriving too slowly next (a quarter of the message timeout).
    var nextMessageCheck = Moment.now
    /// Unwritten answers a connection may pile up before the loop stops reading from it.
    /// (An answer bigger than this is still written whole; only reading waits.)
    static let maxUnwritten = 1 << 20

    private static let maxEvents: Int32 = 64
    private static let wakeTag: UInt64 = 0
    private static let listenerTag: UInt64 = 1 << 63
    static let readSize = 64 << 10
    /// How many calls a leader runs before it looks at its sockets again. (A call that takes
    /// long is not waited for: the watchdog hands the sockets to another thread.)
    static let callsPerTurn = 64
    /// How many messages a leader takes in before it runs them. A client pipelining
    /// thousands of requests is served a turn at a time instead of filling the call queue
    /// (which answers `Server Busy` when full) in one read.
    static let messagesPerTurn = 64

    init(core: ServerCore, index: Int) {
        self.core = core
        threadName = "io-\(core.name)-\(index)"
        leadership = Leadership(maxThreads: core.options.pythonWorkers + 1)
        idle = IdleClock(timeout: core.options.idleTimeout)
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        scratch = ByteBufferAllocator().buffer(capacity: Self.readSize)
        events = .allocate(capacity: Int(Self.maxEvents))
        epollFD = pyrpc_fd_above_stdio(epoll_create1(Int32(EPOLL_CLOEXEC)))
        pyrpc_fd_mark(epollFD)
        register(mailbox.wakeFD, tag: Self.wakeTag, events: EPOLLIN.rawValue)
        if leadership.admitThread() { startThread() }
    }

    deinit {
        if spareFD >= 0 { Glibc.close(spareFD) }
        events.deallocate()
        pyrpc_fd_unmark(epollFD)
        Glibc.close(epollFD)
    }

    /// Debug builds check that leader-only state is touched by the leading thread only
    /// (exclusivity checks see overlapping accesses, not accesses from the wrong thread); the
    /// check compiles out of release builds.
    @inline(__always)
    func assertLeads(_ function: StaticString = #function) {
        assert(leadership.isHeldByCurrentThread, "IOLoop.\(function) touched leader-only state off the leading thread")
    }

    // MARK: Other threads

    /// Accepts connections from the listening socket `fd` (shared by every loop of a server).
    func addListener(_ fd: Int32) {
        listenerFDs.withLockedValue { $0.append(fd) }
        register(fd, tag: Self.listenerTag | UInt64(UInt32(bitPattern: fd)), events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue)
    }

    /// Stops accepting: the listeners leave the epoll set. (The server also shuts them down,
    /// so new connections are refused, and closes them only after the loops stopped, so their
    /// numbers cannot be reused while an event for them may still be in hand.)
    ///
    /// A listener shared with other workers is watched with EPOLLEXCLUSIVE: the kernel wakes
    /// one waiter per new connection. If it woke this loop just before the listener left the
    /// set, nobody else is woken for that connection, which would wait in the queue until the
    /// next one arrives (a client waiting for its answer first: for ever). So the leader then
    /// takes whatever waits, and serves it while the server finishes its calls.
    func stopAccepting() {
        let listeners = listenerFDs.withLockedValue { fds in defer { fds = [] }; return fds }
        for fd in listeners { _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil) }
        if !listeners.isEmpty { mailbox.post(.takeWaiting(listeners: listeners)) }
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
        // A poll: whichever thread leads next cleans up, and it signals nobody (stopping is
        // rare; the leader's path stays free of it).
        while !leadership.isCleanedUp, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Called by the pool's monitor at each look while calls run: if the leader has been in
    /// Python too long, wakes or starts a thread to lead instead. Returns how long the loop has
    /// been without a leader (0: it has one), which sets the monitor's pace (`TickPace`).
    func handOverIfStuck(now: Moment) -> Double {
        switch leadership.handoverIfStuck(now: now) {
        case .none: break
        case .wake(let standby): standby.signal()
        case .startThread: startThread()
        }
        return leadership.leaderlessSeconds(now: now)
    }

    // MARK: Threads

    private func startThread() {
        let thread = Thread { [self] in threadMain() }
        thread.stackSize = 16 << 20  // calls run here too: deep recursion should hit RecursionError, not the guard page
        thread.start()
    }

    private func threadMain() {
        pyrpc_name_thread(threadName)
        pyrpc_unblock_signals()
        let standby = DispatchSemaphore(value: 0)
        let pool = core.pool
        // Python calls run on this thread; without a slot (too many threads) a worker runs them.
        // Made before the thread leads: it takes the GIL, which a crashed call may hold for
        // good (`CrashRescue`), and a thread waiting for it must not hold the sockets too.
        let guest = pool.makeGuest()
        while leadership.acquire(standby: standby) {
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
            mailbox.take(into: &inbox)
            if !inbox.isEmpty {
                for item in inbox { handle(item) }
                inbox.removeAllKeepingStorage()
            }
            flushDirty()
            if handingOver { handOverSettled() }
            if core.pool.pendingCount > 0 {
                if runsPython, leadership.mayStepDown { return true }
                core.pool.wakeIfIdle()
            }
            // A new turn: messages held back last turn first.
            messagesThisTurn = 0
            if !paused.isEmpty, !handingOver { resumePaused() }
            let now = Moment.now
            if idle.tick(now: now) { sweep() }
            if now >= nextMessageCheck {
                expireSlowMessages(now: now)
                nextMessageCheck = now.advanced(bySeconds: core.options.messageTimeout / 4)
            }
            trimIfPending(now: now)
            let sleeps = paused.isEmpty && messagesThisTurn == 0 && mailbox.prepareToSleep()
            let count = epoll_wait(epollFD, events, Self.maxEvents, sleeps ? sleepMilliseconds(now: now) : 0)
            if sleeps { mailbox.awake() }
            for index in 0..<Int(max(count, 0)) {
                handle(events[index])
            }
        }
    }

    /// How long an idle leader may sleep in `epoll_wait`: until the next idle sweep or
    /// slow-message check, and at most a second while freed memory waits to be given back.
    private func sleepMilliseconds(now: Moment) -> Int32 {
        let until = min(idle.nextSweep, nextMessageCheck).millisecondsFrom(now)
        return Int32(clamping: max(1, trimPending ? min(until, 1000) : until))
    }

    // MARK: Events

    private func handle(_ event: epoll_event) {
        assertLeads()
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
                // Handing over, the loop reads only a hang-up or an error (reported whether
                // asked for or not): the connection then ends here.
                if !handingOver || flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { read(connection) }
            }
            if flags & EPOLLOUT.rawValue != 0, !connection.isClosed {
                // A TLS handshake that had to wait to write goes on by reading.
                if connection.tls?.isEstablished == false {
                    connection.wantsWritable = false
                    updateInterest(connection)
                    read(connection)
                } else {
                    write(connection)
                }
            }
        }
    }

    private func handle(_ item: Mailbox.Item) {
        assertLeads()
        switch item {
        case .reply(let id, let sequence, let bytes):
            // A connection closed meanwhile (the client went away) gets nothing.
            if let connection = connection(id) { deliver(bytes, sequence: sequence, to: connection) }
        case .takeWaiting(let listeners):
            for fd in listeners { acceptConnections(from: fd, all: true) }
        case .handOver:
            beginHandOver()
        case .adopt(let transfer):
            adopt(transfer)
        case .unrun(let id, let sequence, let request):
            connection(id)?.unrun[sequence] = request
        case .wake:
            break
        }
    }
}
