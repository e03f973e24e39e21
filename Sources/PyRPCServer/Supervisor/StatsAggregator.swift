import Foundation
import NIOConcurrencyHelpers
import PyRPCWire

/// STATS-RES for a whole supervised server: each RPC's counters summed over the workers, its
/// percentiles over all their latencies together, what workers that are gone counted, and one
/// entry per worker with the restarts of its place.
final class StatsAggregator: Sendable {
    private let name: String
    private let workers: WorkerSet
    private let store: StateStore
    private let startedAt = ContinuousClock.now
    private struct State {
        /// Each worker's latest counters (the heartbeat) or last report.
        var latest: [pid_t: WorkerStats] = [:]
        /// What the workers that are gone counted, merged.
        var retired: [RPCStats] = []
        var gatherings: [Int: StatsGathering] = [:]
        var nextGathering = 1
        /// Workers whose control socket closed (all their reports are in), and workers that
        /// exited, with what their stats board held (nil: none): a worker's share moves to
        /// `retired` once both are known.
        var closed: Set<pid_t> = []
        var exited: [pid_t: [RPCStats]?] = [:]
    }
    private let state = NIOLockedValueBox(State())

    init(name: String, workers: WorkerSet, store: StateStore) {
        self.name = name
        self.workers = workers
        self.store = store
    }

    /// A worker's counters: a heartbeat, its last report, or its answer to `gathering`.
    func record(_ snapshot: WorkerStats, gathering number: Int, from pid: pid_t) {
        let gathering = state.withLockedValue { state -> StatsGathering? in
            // All of a worker's messages are read before `retire`.
            state.latest[pid] = snapshot
            return state.gatherings[number]
        }
        gathering?.record(snapshot, from: pid)
    }

    /// A worker's control socket closed: it sent all it will, and no gathering waits for it
    /// any more.
    func retire(_ pid: pid_t) {
        state.withLockedValue { state in
            state.closed.insert(pid)
            Self.settle(pid, &state)
            for gathering in state.gatherings.values { gathering.forget(pid) }
        }
    }

    /// A worker exited; `counted` is what its stats board held (to its last call, however it
    /// died), nil without one.
    func exited(_ pid: pid_t, counted: [RPCStats]?) {
        state.withLockedValue { state in
            state.exited[pid] = .some(counted)
            Self.settle(pid, &state)
        }
    }

    /// Once a worker has both exited and closed its socket, what it counted moves to the gone
    /// workers' share: its stats board; for overloads not on it (the board has 256 places, a
    /// worker may have more overloads), its last report (or heartbeat, up to a second old,
    /// when it died).
    private static func settle(_ pid: pid_t, _ state: inout State) {
        guard state.closed.contains(pid), let counted = state.exited[pid] else { return }
        let reported = state.latest.removeValue(forKey: pid)?.rpcs ?? []
        let onBoard = Set((counted ?? []).map(StatsReport.key))
        let rpcs = (counted ?? []) + reported.filter { !onBoard.contains(StatsReport.key($0)) }
        if !rpcs.isEmpty {
            state.retired = StatsReport.merge([state.retired, rpcs], latencyLimit: CallStats.window)
        }
        state.closed.remove(pid)
        state.exited[pid] = nil
    }

    /// `pid` died: no gathering waits for it.
    func forget(_ pid: pid_t) {
        for gathering in state.withLockedValue({ Array($0.gatherings.values) }) { gathering.forget(pid) }
    }

    /// Gone workers' counts of overloads a deploy replaced or removed go too, as a single
    /// process's do.
    func forgetRetired(outside manifest: ServerManifest) {
        let kept = Set(manifest.services.flatMap { service in
            service.rpcs.map { "\(service.name).\($0.name)\($0.signature.description)\($0.scriptHash)" }
        })
        state.withLockedValue { state in
            state.retired.removeAll { !kept.contains("\($0.service).\($0.rpc)\($0.signature)\($0.hash)") }
        }
    }

    /// Asks every serving worker for its statistics (2 s at most) and puts them together.
    func statistics() -> StatsReply {
        // Workers being replaced still count (they finish their calls) until their socket closes.
        let reporting = workers.read(\.reporting)
        let gathering = state.withLockedValue { state -> StatsGathering in
            let gathering = StatsGathering(number: state.nextGathering, workers: Set(reporting.map(\.pid)))
            state.gatherings[gathering.number] = gathering
            state.nextGathering += 1
            return gathering
        }
        // One that closed or died before the gathering was registered: none will come from it.
        let gone = workers.read { contents in reporting.filter { contents.workers[$0.pid]?.controlClosed != false }.map(\.pid) }
        for pid in gone { gathering.forget(pid) }
        for worker in reporting where !gone.contains(worker.pid) {
            worker.channel.send(.collectStats(round: gathering.number))
        }
        let gathered = gathering.wait(until: Date().addingTimeInterval(2))
        let (retired, counted) = state.withLockedValue { state in
            state.gatherings[gathering.number] = nil
            // A worker whose share moved to `retired` meanwhile counts there only.
            return (state.retired, gathered.filter { state.latest[$0.pid] != nil })
        }
        let (history, known) = workers.read { ($0.history, $0.workers) }
        let snapshots = counted.sorted {
            (known[$0.pid]?.place ?? .max, $0.pid) < (known[$1.pid]?.place ?? .max, $1.pid)
        }
        let supervision = StatsReply.Supervision(
            workers: snapshots.map { snapshot in
                let worker = known[snapshot.pid]
                let place = worker.flatMap { history.places[$0.place] }
                return StatsReply.Worker(
                    place: worker.map { $0.place + 1 }, pid: Int(snapshot.pid), uptime: snapshot.uptime, calls: snapshot.calls,
                    residentMegabytes: Double(snapshot.residentBytes) / 1_048_576, generation: snapshot.generation,
                    restarts: place?.restarts ?? 0, lastExit: place?.lastExit, leaving: worker?.leaving)
            },
            restarts: history.restarts, crashLoop: history.isCrashLoop,
            exits: history.exits.map { "worker \($0.pid) \($0.how), \(Int(ServerCore.seconds(since: $0.at))) s ago" })
        // With no worker (a crash loop), the stored generation.
        return StatsReply(
            server: name, generation: snapshots.map(\.generation).max() ?? store.loadGeneration() ?? 0,
            uptime: ServerCore.seconds(since: startedAt), rpcs: StatsReport.entries(snapshots.map(\.rpcs) + [retired]),
            supervision: supervision)
    }
}
