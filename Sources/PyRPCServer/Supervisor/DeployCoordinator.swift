import Foundation
import Logging
import NIOConcurrencyHelpers
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// A deploy across worker processes, all or nothing (see `ControlMessage`): the new scripts
/// are written to the store (unnamed until the manifest is), first load in a trial process
/// (`TrialLoad`), then every worker prepares them, reading them from the store; the manifest
/// is stored once, and every worker commits; one failing, or dying, aborts it everywhere. While a
/// crash loop leaves no worker, the deploy mends the server instead (`mend`). Runs on the
/// supervisor's coordination queue, one deploy at a time; it blocks on the workers' replies.
final class DeployCoordinator: @unchecked Sendable {  // the two hooks are set once, by the supervisor's init, before any use
    let service: DeployService
    let name: String
    let processes: Int
    let store: StateStore
    let workers: WorkerSet
    let launcher: WorkerLauncher
    let stats: StatsAggregator
    let logger: Logger
    /// Starts the workers `--processes` lacks (held back while a round runs).
    var startMissingWorkers: @Sendable () -> Void = {}
    /// Follows a trial process: its messages, and its exit (described) to the closure.
    var follow: @Sendable (pid_t, ControlChannel, _ exited: @escaping @Sendable (String) -> Void) -> Void = { _, _, _ in }
    private struct Rounds {
        var current: DeployRound?
        var next = 1
        /// The trial process's round (number 0).
        var trial: DeployRound?
    }
    private let rounds = NIOLockedValueBox(Rounds())

    init(
        name: String, processes: Int, service: DeployService, store: StateStore, workers: WorkerSet,
        launcher: WorkerLauncher, stats: StatsAggregator, logger: Logger
    ) {
        self.name = name
        self.processes = processes
        self.service = service
        self.store = store
        self.workers = workers
        self.launcher = launcher
        self.stats = stats
        self.logger = logger
    }

    /// Runs one deploy in every worker; returns the answer for the client. `unattended`: a
    /// crash loop leaves no worker, so the deploy mends the server.
    func deploy(_ request: DeployRequest, peer: String, unattended: Bool) -> [UInt8] {
        let manifest = request.manifest
        if request.firstStep, let refusal = service.oversize(manifest, sizes: request.sizes, peer: peer) { return refusal.answer }
        let unstored: [String: String]
        switch service.unstoredTexts(of: manifest, sent: request.scripts, firstStep: request.firstStep, peer: peer) {
        case .success(let found): unstored = found
        case .failure(let refusal): return refusal.answer
        }
        // Scripts a failed deploy wrote go again; after a swap, those it no longer names.
        defer { service.tidyStore() }
        do throws(DeployError) {
            try service.stage(unstored)
        } catch {
            return service.rejected(error.message, peer: peer)
        }
        if unattended { return mend(manifest, peer: peer) }
        if let refusal = TrialLoad(coordinator: self).refusal(manifest) {
            return service.rejected(refusal, peer: peer)
        }
        guard let round = beginRound() else {
            service.tally.deploy(.rejected)
            return RPCReply.exception(RPCError(.deployRejected, "no worker of server \(name) was ready for a minute; try again in a moment"))
        }
        defer { endRound() }
        for pid in round.workers {
            workers.channel(of: pid)?.send(.prepare(round: round.number, manifest: manifest))
        }
        let prepared = round.waitForPrepared(until: Date().addingTimeInterval(600)) ?? [:]
        if let refusal = Self.refusal(prepared, expected: round.workers.count) {
            abort(round, refusal)
            return service.rejected(refusal, peer: peer)
        }
        let results = prepared.values.compactMap { if case .swapped(let result) = $0 { result } else { nil } }
        if results.count == round.workers.count { return service.applied(results[0], peer: peer) }
        do throws(DeployError) {
            try service.persist(manifest, scripts: [:])  // its scripts are staged
        } catch {
            abort(round, error.message)
            return service.rejected(error.message, peer: peer)
        }
        for pid in round.workers { workers.channel(of: pid)?.send(.commit(round: round.number)) }
        let swapped = round.waitForSwapped(until: Date().addingTimeInterval(60)) ?? [:]
        service.forgetUnreferenced(manifest)
        let changed = swapped.values.compactMap { if case .swapped(let result) = $0, result.changed { result } else { nil } }
        guard let result = changed.first else {
            service.tally.deploy(.rejected)
            return RPCReply.exception(RPCError(.deployRejected, "the deploy was stored but no worker confirmed the swap; the workers restart on it"))
        }
        try? store.storeGeneration(result.generation)
        stats.forgetRetired(outside: manifest)
        return service.applied(result, peer: peer, detail: " in \(changed.count) worker\(changed.count == 1 ? "" : "s")")
    }

    /// A worker's (or the trial process's) reply to round `number`.
    func record(_ reply: DeployRound.Reply, round number: Int, from pid: pid_t) {
        let round = rounds.withLockedValue { rounds -> DeployRound? in
            if let trial = rounds.trial, trial.number == number { return trial }
            return rounds.current?.number == number ? rounds.current : nil
        }
        round?.record(reply, from: pid)
    }

    /// Worker `pid` died: the round it was part of hears so.
    func died(_ pid: pid_t, how: String) {
        rounds.withLockedValue { $0.current }?.record(.died(how), from: pid)
    }

    /// The trial process's round, while it runs.
    func trial(_ round: DeployRound?) {
        rounds.withLockedValue { $0.trial = round }
    }

    /// Why a round cannot commit, or nil when every worker prepared.
    private static func refusal(_ replies: [pid_t: DeployRound.Reply], expected: Int) -> String? {
        for (pid, reply) in replies.sorted(by: { $0.key < $1.key }) {
            switch reply {
            case .failed(let message): return message
            case .died(let how): return "worker process \(pid) was \(how) while loading the new scripts; the running generation keeps serving"
            case .prepared, .swapped: continue
            }
        }
        return replies.count < expected ? "the workers did not finish loading the new scripts in time" : nil
    }

    private func abort(_ round: DeployRound, _ reason: String) {
        for pid in round.workers { workers.channel(of: pid)?.send(.abort(round: round.number, reason: reason)) }
    }

    /// Waits until no worker is starting (it would load the state on disk while the round
    /// changes it), then holds replacements back until `endRound`. Nil: no moment like that
    /// came within a minute.
    private func beginRound() -> DeployRound? {
        let number = rounds.withLockedValue { rounds in
            defer { rounds.next += 1 }
            return rounds.next
        }
        // In the moment the workers are seen ready: a replacement due now waits for the round,
        // and a worker that dies from now on is heard of by the round (`died`).
        return workers.waitToChange(until: Date().addingTimeInterval(60)) { contents -> DeployRound? in
            let live = contents.live
            guard !live.isEmpty, live.allSatisfy(\.ready) else { return nil }
            contents.deploying = true
            let round = DeployRound(number: number, workers: live.map(\.pid).sorted())
            rounds.withLockedValue { $0.current = round }
            return round
        }
    }

    /// Replaces the workers that died during the round.
    private func endRound() {
        workers.change { $0.deploying = false }
        rounds.withLockedValue { $0.current = nil }
        startMissingWorkers()
    }
}
