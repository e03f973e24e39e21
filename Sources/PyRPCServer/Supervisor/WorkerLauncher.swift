import Foundation
import NIOConcurrencyHelpers
import PyRPCTLS
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// Starts a supervisor's children — its workers and the trial processes that load a deploy's
/// new scripts first — on its listening socket, and hands each child's control messages and
/// exit to whoever follows it.
final class WorkerLauncher: Sendable {
    let listener: Int32
    private let arguments: [String]
    private let environment: [String: String]
    private let siblings: Int
    /// The TLS files' contents each child gets (`WorkerTLS`); nil: plain TCP.
    let tlsMaterial: NIOLockedValueBox<TLSMaterial?>
    /// Each child's scoreboard (`Scoreboard`) and stats board (`StatsBoard`), read when it exits.
    private let boards = NIOLockedValueBox<[pid_t: (scoreboard: Int32, stats: Int32)]>([:])
    /// Each child's metrics board, read while it runs and once it is gone.
    let metrics: ServerMetrics

    init(listener: Int32, arguments: [String], environment: [String: String], processes: Int, tlsMaterial: TLSMaterial? = nil,
         metrics: ServerMetrics = ServerMetrics()) {
        self.listener = listener
        self.metrics = metrics
        self.tlsMaterial = NIOLockedValueBox(tlsMaterial)
        self.arguments = arguments
        self.environment = environment
        siblings = processes - 1
    }

    /// A worker that accepts on the listener (its control socket's end is returned).
    func spawnWorker() throws -> (pid: pid_t, channel: ControlChannel) {
        try spawn(["--worker", "--sibling-workers", "\(siblings)"])
    }

    /// A process that only loads the scripts it is sent (`DeployCoordinator`'s trial).
    func spawnTrial() throws -> (pid: pid_t, channel: ControlChannel) {
        try spawn(["--worker", "--probe"])
    }

    private func spawn(_ role: [String]) throws -> (pid: pid_t, channel: ControlChannel) {
        let spawned = try WorkerSpawner.spawn(
            arguments: arguments + role, environment: environment.merging(WorkerTLS.environment(tlsMaterial.withLockedValue { $0 })) { $1 },
            listener: listener)
        boards.withLockedValue { $0[spawned.pid] = (spawned.scoreboard, spawned.statsBoard) }
        metrics.follow(spawned.pid, statsBoard: spawned.statsBoard)
        return (spawned.pid, ControlChannel(fd: spawned.control))
    }

    /// Hands `pid`'s messages (on a thread of its own, in order) and then the end of its control
    /// socket to `received` and `closed`, and its exit to `exited`.
    func follow(
        _ pid: pid_t, _ channel: ControlChannel, received: @escaping @Sendable (ControlMessage) -> Void,
        closed: @escaping @Sendable () -> Void, exited: @escaping @Sendable (Int32) -> Void
    ) {
        ChildReaper.shared.watch(pid) { [metrics] _, status, cpuSeconds in
            metrics.ended(pid, cpuSeconds: cpuSeconds)
            exited(status)
        }
        let reader = Thread {
            var reader = ControlReader(channel)
            while let message = reader.next() { received(message) }
            close(channel.fd)
            closed()
        }
        reader.start()
    }

    /// How a child ended, and whether it was running a call then.
    struct Exit {
        /// "killed by SIGSEGV while running svc.f() -> (int) for 0.2 s".
        let how: String
        /// Its scoreboard shows a call, not only a script loading: the call killed it.
        let inCall: Bool
        /// What its overloads counted, to its last call (nil without a stats board).
        let statistics: [RPCStats]?
    }

    /// How child `pid` ended, with what its scoreboard says it was running; its scoreboard
    /// is closed.
    func exit(of pid: pid_t, status: Int32) -> Exit {
        let (scoreboard, statsBoard) = boards.withLockedValue { $0.removeValue(forKey: pid) } ?? (-1, -1)
        let running = Scoreboard.read(scoreboard)
        let statistics = StatsBoard.read(statsBoard)
        for fd in [scoreboard, statsBoard] where fd >= 0 { close(fd) }
        let how = WorkerSpawner.describe(status: status) + (running.isEmpty ? "" : " while \(running.joined(separator: ", "))")
        return Exit(how: how, inCall: running.contains { $0.hasPrefix("running ") }, statistics: statistics)
    }
}
