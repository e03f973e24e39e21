#if canImport(Glibc)
import Glibc
#endif
import CLinux
import NIOConcurrencyHelpers
import PyRPCWire

/// Where the answer to one message goes, for whoever computes it (a call, a deploy, the
/// supervisor's statistics): they know this much of the network, nothing of its loops.
/// Any thread may deliver, once.
protocol ReplySink: Sendable {
    func deliver(_ reply: [UInt8])
    /// The request will not run here (its worker process is dying): `request` is the message
    /// to run elsewhere, in its place.
    func giveBack(_ request: [UInt8])
}

extension ReplySink {
    /// Where a request cannot travel on: its client is told to call again.
    func giveBack(_ request: [UInt8]) {
        deliver(RPCReply.exception(RPCError(.serverBusy, "the call did not run: its worker process died; call again")))
    }
}

/// A connection of an I/O loop and the message's place in that connection's order.
struct ReplyRoute: ReplySink {
    let loop: IOLoop
    let connection: UInt64
    let sequence: Int

    func deliver(_ reply: [UInt8]) {
        loop.mailbox.post(.reply(connection: connection, sequence: sequence, bytes: reply))
    }

    /// The request travels with its connection to another worker (`IOLoop+HandOver.swift`).
    func giveBack(_ request: [UInt8]) {
        loop.mailbox.post(.unrun(connection: connection, sequence: sequence, request: request))
    }
}

/// What other threads hand to an I/O loop's leader: answers computed elsewhere.
final class Mailbox: Sendable {
    enum Item: Sendable {
        case reply(connection: UInt64, sequence: Int, bytes: [UInt8])
        /// Listeners just taken out of the epoll set: accept what waits on them (`IOLoop.stopAccepting`).
        case takeWaiting(listeners: [Int32])
        /// The worker leaves: stop reading, and hand each connection over once it owes no call
        /// in flight (`IOLoop+HandOver.swift`).
        case handOver
        /// A connection another worker handed over.
        case adopt(ConnectionTransfer)
        /// Requests of a dying worker's Python pool that never ran: they travel with their
        /// connection to another worker.
        case unrun(connection: UInt64, sequence: Int, request: [UInt8])
        /// Nothing to do but look around (the loop is stopping).
        case wake
    }

    private struct State {
        var items: [Item] = []
        /// The leader is (about to be) blocked in `epoll_wait` and must be woken.
        var sleeping = false
    }

    private let state = NIOLockedValueBox(State())
    /// An eventfd in the loop's epoll set.
    let wakeFD: Int32

    init() {
        wakeFD = pyrpc_fd_above_stdio(eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)))
        pyrpc_fd_mark(wakeFD)
    }

    deinit {
        pyrpc_fd_unmark(wakeFD)
        close(wakeFD)
    }

    /// Queues `item`; wakes the leader only if it sleeps, so answers that arrive together
    /// cost one wake-up. Without a leader (it is running Python) nobody is woken: the thread
    /// that leads next empties the mailbox first.
    func post(_ item: Item) {
        let wake = state.withLockedValue { state -> Bool in
            state.items.append(item)
            defer { state.sleeping = false }
            return state.sleeping
        }
        if wake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Everything posted so far, into `batch` (leader only), which must be empty. The two
    /// arrays trade places, so both keep their capacity: no allocation per turn.
    func take(into batch: inout [Item]) {
        state.withLockedValue { state in swap(&state.items, &batch) }
    }

    /// Marks the leader as about to sleep; false (and no mark) if items wait.
    func prepareToSleep() -> Bool {
        state.withLockedValue { state in
            guard state.items.isEmpty else { return false }
            state.sleeping = true
            return true
        }
    }

    /// The leader woke up: posts need not wake it.
    func awake() {
        state.withLockedValue { $0.sleeping = false }
    }

    /// Resets the eventfd after it fired.
    func drainWakeups() {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
    }
}
