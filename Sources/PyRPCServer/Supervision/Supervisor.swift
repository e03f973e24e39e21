import CLinux
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// How a supervisor runs its workers (`pyrpc serve --processes N`).
public struct SupervisorOptions: Sendable {
    /// Worker processes kept running.
    public var processes = 1
    /// On SIGINT/SIGTERM, how long workers may take to finish their calls (seconds).
    public var shutdownGrace: Double = 10
    /// What a worker is started with after the executable's name: `serve NAME` and the
    /// server's flags; the supervisor adds `--worker`.
    public var workerArguments: [String] = []
    public var stateDirectory: String
    /// The token deploys must carry (the workers check it, and the supervisor while it answers
    /// for a server whose workers crash as they start: `CrashLoopDesk`).
    public var deployToken: String?

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }
}

/// `pyrpc serve NAME --processes N`: a small process that runs no Python. It owns the
/// listening socket, the state directory and the deploy protocol, and keeps N worker
/// processes — each a fresh start of this binary with its own interpreter — accepting on that
/// one socket. A worker that dies is replaced at once (backing off when it keeps dying);
/// connections the kernel queued meanwhile are taken by the others or by its successor.
public final class Supervisor: Sendable {
    public let name: String
    public let address: SocketAddress
    private let options: SupervisorOptions
    private let logger: Logger
    private let listener: Int32
    private let store: StateStore
    private let state = NIOLockedValueBox(State())
    /// Deploys and SIGHUP replacements run here, one at a time; they may block.
    private let coordination = DispatchQueue(label: "pyrpc.supervisor")

    private struct Worker {
        let pid: pid_t
        /// Which of the `--processes` places it fills (0 ..< processes): a replacement takes the
        /// place of the worker it replaces, and `pyrpc stats` counts restarts per place.
        let slot: Int
        let channel: ControlChannel
        /// Its control socket reached its end: all it sent has been read.
        var controlClosed = false
        var readyAt: ContinuousClock.Instant?
        var ready: Bool { readyAt != nil }
        /// Why it is being stopped on purpose (it is then not replaced when it exits).
        var leaving: String?
    }

    private struct State {
        var workers: [pid_t: Worker] = [:]
        var stopping = false
        /// A deploy round is running: a replacement started now would load the state on disk
        /// before the round commits, so replacements wait for `endRound`.
        var deploying = false
        var crashesInARow = 0
        /// When the replacement a crash loop waits for is due.
        var nextAttempt: ContinuousClock.Instant?
        var restarts = 0
        /// Per worker place: how often it was restarted, and why the latest time.
        var places: [Int: (restarts: Int, lastExit: String)] = [:]
        /// Each worker's latest counters (the heartbeat) or last report.
        var latest: [pid_t: WorkerStats] = [:]
        /// What the workers that are gone counted, merged.
        var retired: [RPCStats] = []
        var round: DeployRound?
        var nextRound = 1
        /// The process trying a deploy's new scripts before any worker loads them.
        var probe: DeployRound?
        /// Each child's scoreboard (`Scoreboard`), read when it exits.
        var scoreboards: [pid_t: Int32] = [:]
        var gatherings: [Int: StatsGathering] = [:]
        var nextGathering = 1
        /// The latest workers that died or left, newest last, for `pyrpc stats`.
        var exits: [(at: ContinuousClock.Instant, pid: pid_t, how: String)] = []
        /// Some worker has loaded its state and listened; before that, a worker that exits with
        /// status 2 (a configuration error it has printed) ends the server: `startupFailure`.
        var everReady = false
        var startupFailure: String?
    }
    private let startedAt = ContinuousClock.now
    private let desk = NIOLockedValueBox<CrashLoopDesk?>(nil)

    public init(name: String, host: String, port: Int, options: SupervisorOptions, logger: Logger) throws {
        self.name = name
        self.options = options
        self.logger = logger
        store = try StateStore(directory: options.stateDirectory)
        (listener, address) = try Sockets.listen(host: host, port: port)
    }

    /// Starts the workers; returns at once (they become ready on their own).
    public func start() {
        for _ in 0..<options.processes { spawnWorker() }
        let heartbeat = Thread { [self] in
            while !state.withLockedValue({ $0.stopping }) {
                sleep(1)
                let ready = state.withLockedValue { $0.workers.values.filter { $0.ready && !$0.controlClosed }.map(\.channel) }
                for channel in ready { channel.send(.collectStats(round: ControlMessage.heartbeat)) }
            }
        }
        heartbeat.start()
        let desk = CrashLoopDesk(
            listener: listener, unattended: { [weak self] in self?.unattendedReason() },
            answerAdmin: { [weak self] envelope, peer in self?.answerAdmin(envelope, from: peer) ?? [] })
        desk.start()
        self.desk.withLockedValue { $0 = desk }
        logger.info("server \(name) listening on \(PyRPCServer.describe(address)) with \(options.processes) worker process\(options.processes == 1 ? "" : "es")")
        if let warning = DeployGuard.startWarning(hasToken: options.deployToken != nil, listeningOn: address) {
            logger.warning("\(warning)")
        }
    }

    /// Waits until `count` workers accept connections. Throws when the first workers fail
    /// with a configuration error (a venv for another Python, an unreadable state directory):
    /// replacing them would fail the same way for ever.
    public func waitUntilReady(_ count: Int, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while readyWorkers < count {
            if let failure = state.withLockedValue({ $0.startupFailure }) { throw DeployError(message: failure) }
            if ContinuousClock.now > deadline { throw DeployError(message: "the workers did not start within \(timeout)") }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Workers that have loaded their state and accept connections.
    private var readyWorkers: Int {
        state.withLockedValue { $0.workers.values.filter { $0.ready && $0.leaving == nil }.count }
    }

    /// The worker processes' ids.
    private var workerIDs: [Int32] {
        state.withLockedValue { $0.workers.values.filter { $0.leaving == nil }.map(\.pid).sorted() }
    }

    /// SIGHUP: replaces the workers one by one, each only after its successor is ready, so no
    /// call fails. A successor that dies as it starts (the state on disk now crashes an
    /// import: a package changed under the venv) ends the round: the workers serving keep
    /// serving, as the next successor would die the same way.
    public func replaceWorkers() {
        coordination.async { [self] in
            let old = workerIDs
            let patience = 120.0  // as long as the first workers may take to start
            logger.info("replacing \(old.count) worker\(old.count == 1 ? "" : "s") one by one (SIGHUP)")
            for pid in old {
                // Gone meanwhile (crashed, recycled): its replacement already runs fresh.
                guard let place = state.withLockedValue({ $0.workers[pid].flatMap { $0.leaving == nil ? $0.slot : nil } }) else { continue }
                guard let successor = spawnWorker(place: place) else { return }
                switch waitUntilStarted(successor, timeout: patience) {
                case .ready:
                    retire(pid, because: "replaced (SIGHUP)")
                case .died:
                    logger.error("worker \(pid) is kept, and so are the others: its successor \(successor) died as it started (above); SIGHUP replaced no further worker")
                    return
                case .notYet:
                    logger.error("worker \(pid) is kept, and so are the others: its successor \(successor) was not ready within \(Int(patience)) s and is killed")
                    state.withLockedValue { $0.workers[successor]?.leaving = "not ready within \(Int(patience)) s of a SIGHUP" }
                    kill(successor, SIGKILL)
                    return
                case .stopping:
                    return
                }
            }
        }
    }

    private enum StartOutcome { case ready, died, notYet, stopping }

    /// Waits until the worker `pid` is ready, has died, or `timeout` seconds pass.
    private func waitUntilStarted(_ pid: pid_t, timeout: Double) -> StartOutcome {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let outcome = state.withLockedValue { state -> StartOutcome? in
                if state.stopping { return .stopping }
                guard let worker = state.workers[pid] else { return .died }
                return worker.ready ? .ready : nil
            }
            if let outcome { return outcome }
            usleep(10_000)
        }
        return .notYet
    }

    /// Stops accepting, lets the workers finish their calls (up to the shutdown grace), and
    /// ends them all.
    public func stop() async {
        desk.withLockedValue { $0 }?.stop()
        let pids = state.withLockedValue { state -> [pid_t] in
            state.stopping = true
            for pid in state.workers.keys { state.workers[pid]?.leaving = "stopping" }
            return Array(state.workers.keys)
        }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .milliseconds(Int64((options.shutdownGrace + 5) * 1000))
        while state.withLockedValue({ !$0.workers.isEmpty }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let stuck = state.withLockedValue { Array($0.workers.keys) }
        for pid in stuck {
            logger.error("worker \(pid) did not stop within the shutdown grace; killing it")
            kill(pid, SIGKILL)
        }
        let killDeadline = ContinuousClock.now + .seconds(5)
        while state.withLockedValue({ !$0.workers.isEmpty }), ContinuousClock.now < killDeadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        _ = shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        logger.info("server \(name) stopped")
    }

    // MARK: Workers

    /// Starts a worker in `place`, or in the first place no worker fills; its pid, or nil
    /// when the server is stopping or the start failed (it is then tried again in 1 s).
    @discardableResult
    private func spawnWorker(place: Int? = nil) -> pid_t? {
        // Under the lock: the reaper cannot see the new pid exit before it is known here.
        let started: (pid_t, ControlChannel)? = state.withLockedValue { state in
            guard !state.stopping else { return nil }
            let taken = Set(state.workers.values.filter { $0.leaving == nil }.map(\.slot))
            let slot = place ?? (0...).first { !taken.contains($0) }!
            do {
                let spawned = try WorkerSpawner.spawn(arguments: options.workerArguments + ["--worker", "--sibling-workers", "\(options.processes - 1)"], listener: listener)
                let channel = ControlChannel(fd: spawned.control)
                state.workers[spawned.pid] = Worker(pid: spawned.pid, slot: slot, channel: channel)
                state.scoreboards[spawned.pid] = spawned.scoreboard
                return (spawned.pid, channel)
            } catch {
                logger.error("cannot start a worker: \(error); trying again in 1 s")
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [self] in spawnWorker(place: place) }
                return nil
            }
        }
        guard let (pid, channel) = started else { return nil }
        follow(pid, channel)
        return pid
    }

    /// Hands `pid`'s exit and its control messages to this supervisor.
    private func follow(_ pid: pid_t, _ channel: ControlChannel) {
        ChildReaper.shared.watch(pid) { [self] pid, status in exited(pid, status: status) }
        let reader = Thread { [self] in
            var reader = ControlReader(channel)
            while let message = reader.next() { handle(message, from: pid) }
            close(channel.fd)
            retireStatistics(of: pid)
        }
        reader.start()
    }

    /// A replacement, unless the workers are already there (the end of a deploy round
    /// started it before a backed-off replacement was due).
    private func spawnIfShort() {
        // A deploy round starts the workers it lacks at its end, on the state it stored.
        if !state.withLockedValue({ $0.deploying }), liveWorkers < options.processes { spawnWorker() }
    }

    /// Workers running or starting, not being stopped.
    private var liveWorkers: Int {
        state.withLockedValue { state in state.workers.values.filter { $0.leaving == nil }.count }
    }

    /// Stops `pid` gracefully (it finishes its calls), without replacing it.
    private func retire(_ pid: pid_t, because reason: String) {
        let known = state.withLockedValue { state -> Bool in
            guard state.workers[pid] != nil else { return false }
            state.workers[pid]?.leaving = reason
            return true
        }
        if known { kill(pid, SIGTERM) }
    }

    /// A worker exited: replaced unless it was stopped on purpose.
    private func exited(_ pid: pid_t, status: Int32) {
        let scoreboard = state.withLockedValue { $0.scoreboards.removeValue(forKey: pid) } ?? -1
        let running = Scoreboard.read(scoreboard)
        if scoreboard >= 0 { close(scoreboard) }
        let how = WorkerSpawner.describe(status: status) + (running.isEmpty ? "" : " while \(running.joined(separator: ", "))")
        let (worker, round, delay) = state.withLockedValue { state -> (Worker?, DeployRound?, Double?) in
            if let probe = state.probe, probe.workers == [pid] { return (nil, probe, nil) }
            guard let worker = state.workers.removeValue(forKey: pid) else { return (nil, nil, nil) }
            if state.stopping || worker.leaving != nil { return (worker, state.round, nil) }
            if !state.everReady, WorkerSpawner.exitCode(status: status) == 2 {
                state.startupFailure = "a worker could not start (\(how)); its error is above"
                state.stopping = true
                return (worker, state.round, nil)
            }
            // A worker that dies before it is ready or within a second of it is part of a crash
            // loop (a script that kills every worker as it loads, every call crashing): wait
            // longer before each replacement (0, 0.1, 0.2, 0.4 ... 10 s); one that served a
            // while starts the count over.
            let servedLong = worker.readyAt.map { ContinuousClock.now - $0 >= .seconds(1) } ?? false
            state.crashesInARow = servedLong ? 1 : state.crashesInARow + 1
            state.restarts += 1
            if state.deploying { return (worker, state.round, nil) }
            let crashes = state.crashesInARow
            return (worker, state.round, crashes <= 1 ? 0 : min(10, 0.1 * pow(2, Double(crashes - 2))))
        }
        round?.record(.died(how), from: pid)
        guard let worker else { return }
        worker.channel.hangUp()
        for gathering in state.withLockedValue({ Array($0.gatherings.values) }) { gathering.forget(pid) }
        state.withLockedValue { state in
            let why = worker.leaving.map { "\(how) (\($0))" } ?? how
            state.exits.append((.now, pid, why))
            if state.exits.count > 5 { state.exits.removeFirst() }
            if !state.stopping { state.places[worker.slot] = ((state.places[worker.slot]?.restarts ?? 0) + 1, why) }
        }
        if let leaving = worker.leaving {
            logger.info("worker \(pid) \(how) (\(leaving))")
            return
        }
        if state.withLockedValue({ $0.stopping }) { return }
        if liveWorkers >= options.processes {
            // A SIGHUP successor that died while the worker it was to replace still serves.
            logger.warning("worker \(pid) \(how) before it took over; the worker it was to replace serves on")
            return
        }
        let crashes = state.withLockedValue { $0.crashesInARow }
        guard let delay else {
            logger.warning("worker \(pid) \(how); it is replaced once the deploy in progress ends")
            return
        }
        if crashes >= 3 {
            logger.error("worker \(pid) \(how): crash loop, \(crashes) crashes in a row; starting another in \(delay) s")
        } else {
            logger.warning("worker \(pid) \(how); starting another")
        }
        state.withLockedValue { $0.nextAttempt = .now + .milliseconds(Int64(delay * 1000)) }
        if delay == 0 {
            spawnIfShort()
        } else {
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in spawnIfShort() }
        }
    }

    private func handle(_ message: ControlMessage, from pid: pid_t) {
        switch message {
        case .ready(_, let generation):
            let known = state.withLockedValue { state -> Bool in
                state.workers[pid]?.readyAt = .now
                if state.workers[pid] != nil { state.everReady = true }
                return state.workers[pid] != nil
            }
            if known { logger.info("worker \(pid) ready (generation \(generation))") }
        case .deploy(let request, let firstStep, let manifest, let scripts, let peer):
            coordination.async { [self] in
                let answer = deploy(manifest, scripts: scripts, firstStep: firstStep, peer: peer)
                channel(of: pid)?.send(.answer(request: request, answer: String(decoding: answer, as: UTF8.self)))
            }
        case .statsRequest(let request):
            DispatchQueue.global().async { [self] in
                let answer = statistics().envelope.encoded()
                channel(of: pid)?.send(.answer(request: request, answer: String(decoding: answer, as: UTF8.self)))
            }
        case .stats(let number, let snapshot):
            let gathering = state.withLockedValue { state -> StatsGathering? in
                // All of a worker's messages are read before `retireStatistics`.
                state.latest[pid] = snapshot
                return state.gatherings[number]
            }
            gathering?.record(snapshot, from: pid)
        case .prepared(let number, let error):
            round(number)?.record(error.map { .failed($0) } ?? .prepared, from: pid)
        case .swapped(let number, let result):
            round(number)?.record(.swapped(result), from: pid)
        case .retiring(let reason):
            logger.warning("worker \(pid) retires: \(reason); starting its successor")
            retire(pid, because: reason)
            spawnWorker()
        case .answer, .prepare, .commit, .abort, .collectStats:
            logger.warning("unexpected control message from worker \(pid): \(message)")
        }
    }

    private func channel(of pid: pid_t) -> ControlChannel? {
        state.withLockedValue { $0.workers[pid]?.channel }
    }

    private func round(_ number: Int) -> DeployRound? {
        state.withLockedValue { state in
            if let probe = state.probe, probe.number == number { return probe }
            return state.round?.number == number ? state.round : nil
        }
    }

    // MARK: A crash loop with no worker

    /// Why no worker serves, while a crash loop leaves none ready (`CrashLoopDesk` then
    /// answers clients); nil otherwise.
    func unattendedReason() -> String? {
        state.withLockedValue { state in
            guard !state.stopping, state.crashesInARow >= 3,
                  !state.workers.values.contains(where: { $0.ready && $0.leaving == nil })
            else { return nil }
            let latest = state.exits.last.map { "; the latest: worker \($0.pid) \($0.how)" } ?? ""
            let next = state.nextAttempt.map { max(0, ServerCore.seconds(since: $0) * -1) }.map { "; the next starts in \((($0 * 10).rounded() / 10)) s" } ?? ""
            return "server \(name) has no worker running: its workers die as they start (\(state.crashesInARow) in a row\(latest))\(next). See the server's log; a `pyrpc deploy` that fixes the script is applied at once"
        }
    }

    /// What the supervisor answers itself while no worker serves: statistics and deploys.
    func answerAdmin(_ envelope: Envelope, from peer: String) -> [UInt8] {
        if envelope.header == Header.statsRequest { return statistics().envelope.encoded() }
        if let refusal = DeployGuard(token: options.deployToken).check(token: envelope.value["token"]?.stringValue, peer: peer) {
            logger.warning("unauthorized deploy from \(peer) refused: \(refusal)")
            return RPCReply.exception(RPCError(.deployRejected, refusal))
        }
        let request: DeployRequest
        do throws(RPCError) {
            request = try DeployHandler.read(envelope, serverName: name)
        } catch {
            return RPCReply.exception(error)
        }
        return coordination.sync { deploy(request.manifest.json.jsonText, scripts: request.scripts, firstStep: request.firstStep, peer: peer) }
    }

    /// A deploy while a crash loop leaves no worker: the whole new state loads in a trial
    /// process first, is stored, and workers start on it at once (no back-off); the answer
    /// waits until they serve it. If they still die as they start, the previous state is put
    /// back: all or nothing, as ever.
    private func mend(_ manifest: ServerManifest, texts: [String: String], peer: String) -> [UInt8] {
        if let refusal = probe(manifest, texts: texts, whole: true) {
            logger.warning("deploy from \(peer) rejected: \(refusal)")
            return RPCReply.exception(RPCError(.deployRejected, refusal))
        }
        let old = (try? store.loadManifest()) ?? nil
        let oldGeneration = store.loadGeneration() ?? (old == nil ? 0 : 1)
        // Workers starting on the old state now would serve it after the deploy: stop them,
        // and hold replacements until the new state is stored.
        let starting = state.withLockedValue { state -> [pid_t] in
            state.deploying = true
            let live = state.workers.values.filter { $0.leaving == nil }.map(\.pid)
            for pid in live { state.workers[pid]?.leaving = "its state is being replaced by a deploy" }
            return live
        }
        for pid in starting { kill(pid, SIGKILL) }
        let gone = Date().addingTimeInterval(10)
        while Date() < gone, state.withLockedValue({ state in starting.contains { state.workers[$0] != nil } }) { usleep(10_000) }
        let generation = oldGeneration + 1
        do throws(DeployError) {
            for (hash, text) in texts { try store.storeScript(hash, text) }
            try store.storeManifest(manifest)
            try store.storeGeneration(generation)
        } catch {
            state.withLockedValue { $0.deploying = false }
            spawnIfShort()
            logger.warning("deploy from \(peer) rejected: \(error.message)")
            return RPCReply.exception(RPCError(.deployRejected, error.message))
        }
        let restartsBefore = state.withLockedValue { state in
            state.deploying = false
            state.crashesInARow = 0
            return state.restarts
        }
        for _ in 0..<max(0, options.processes - liveWorkers) { spawnWorker() }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, readyWorkers < options.processes, state.withLockedValue({ $0.restarts == restartsBefore }) {
            usleep(10_000)
        }
        guard readyWorkers >= options.processes else {
            let how = state.withLockedValue { $0.exits.last.map { "worker \($0.pid) \($0.how)" } } ?? "they did not start within 2 minutes"
            if let old {
                try? store.storeManifest(old)
                try? store.storeGeneration(oldGeneration)
            }
            let refusal = "the new scripts load in a trial process, but the workers still die as they start with them (\(how)); the previous state is back"
            logger.warning("deploy from \(peer) rejected: \(refusal)")
            return RPCReply.exception(RPCError(.deployRejected, refusal))
        }
        store.removeScripts(except: manifest.scriptHashes)
        forgetRetiredStatistics(outside: manifest)
        let report = ManifestDiff.compare(old, manifest, generation: generation)
        logger.info("deploy from \(peer) applied: generation \(generation); the workers serve again")
        return DeployResult(
            generation: generation, added: report.added, replaced: report.replaced, removed: report.removed,
            unchanged: report.unchanged, changed: true, python: old?.python == manifest.python ? "unchanged" : "at next start"
        ).envelope.encoded()
    }

    // MARK: Statistics

    /// A worker's control socket closed: it sent all it will. What it counted moves to the
    /// gone workers' share (its last report when it stopped gracefully; its last heartbeat,
    /// up to a second old, when it died), and no gathering waits for it any more.
    private func retireStatistics(of pid: pid_t) {
        state.withLockedValue { state in
            state.workers[pid]?.controlClosed = true
            if let last = state.latest.removeValue(forKey: pid) {
                state.retired = StatsReport.merge([state.retired, last.rpcs], latencyLimit: CallStats.window)
            }
            for gathering in state.gatherings.values { gathering.forget(pid) }
        }
    }

    /// STATS-RES for the whole server: each RPC's counters summed over the workers and its
    /// percentiles over all their latencies; then one entry per worker, restarts and recent exits.
    private func statistics() -> StatsReply {
        let gathering = state.withLockedValue { state -> StatsGathering in
            // Workers being replaced still count (they finish their calls) until their socket closes.
            let ready = Set(state.workers.values.filter { $0.ready && !$0.controlClosed }.map(\.pid))
            let gathering = StatsGathering(number: state.nextGathering, workers: ready)
            state.gatherings[gathering.number] = gathering
            state.nextGathering += 1
            return gathering
        }
        for pid in gathering.expected { channel(of: pid)?.send(.collectStats(round: gathering.number)) }
        let gathered = gathering.wait(until: Date().addingTimeInterval(2))
        let (restarts, crashes, exits, retired, workers, places, counted) = state.withLockedValue { state in
            state.gatherings[gathering.number] = nil
            // A worker whose share moved to `retired` meanwhile counts there only.
            let counted = gathered.filter { state.latest[$0.pid] != nil }
            return (state.restarts, state.crashesInARow, state.exits, state.retired, state.workers, state.places, counted)
        }
        let snapshots = counted.sorted {
            (workers[$0.pid]?.slot ?? .max, $0.pid) < (workers[$1.pid]?.slot ?? .max, $1.pid)
        }
        let supervision = StatsReply.Supervision(
            workers: snapshots.map { snapshot in
                let worker = workers[snapshot.pid]
                let place = worker.flatMap { places[$0.slot] }
                return StatsReply.Worker(
                    place: worker.map { $0.slot + 1 }, pid: Int(snapshot.pid), uptime: snapshot.uptime, calls: snapshot.calls,
                    residentMegabytes: Double(snapshot.residentBytes) / 1_048_576, generation: snapshot.generation,
                    restarts: place?.restarts ?? 0, lastExit: place?.lastExit, leaving: worker?.leaving)
            },
            restarts: restarts, crashLoop: crashes >= 3,
            exits: exits.map { "worker \($0.pid) \($0.how), \(Int(ServerCore.seconds(since: $0.at))) s ago" })
        // With no worker (a crash loop), the stored generation.
        return StatsReply(
            server: name, generation: snapshots.map(\.generation).max() ?? store.loadGeneration() ?? 0,
            uptime: ServerCore.seconds(since: startedAt), rpcs: StatsReport.entries(snapshots.map(\.rpcs) + [retired]),
            supervision: supervision)
    }

    /// Gone workers' counts of overloads a deploy replaced or removed go too, as a single
    /// process's do.
    private func forgetRetiredStatistics(outside manifest: ServerManifest) {
        let kept = Set(manifest.services.flatMap { service in
            service.rpcs.map { "\(service.name).\($0.name)\($0.signature.description)\($0.scriptHash)" }
        })
        state.withLockedValue { state in
            state.retired.removeAll { !kept.contains("\($0.service).\($0.rpc)\($0.signature)\($0.hash)") }
        }
    }

    // MARK: Deploys

    /// Runs one deploy in every worker, all or nothing; returns the answer for the client.
    private func deploy(_ manifestText: String, scripts: [String: String], firstStep: Bool, peer: String) -> [UInt8] {
        let manifest: ServerManifest
        do {
            manifest = try ServerManifest(json: try JSONParser.parse(manifestText))
        } catch {
            return RPCReply.exception(RPCError(.deployRejected, "unreadable manifest: \(error)"))
        }
        var texts: [String: String] = [:]
        var missing: [String] = []
        for hash in manifest.scriptHashes.sorted() {
            if let text = scripts[hash] ?? store.script(hash) { texts[hash] = text } else { missing.append(hash) }
        }
        if !missing.isEmpty {
            if firstStep {
                logger.info("deploy from \(peer): \(missing.count) script\(missing.count == 1 ? "" : "s") needed")
                return DeployNeed(missing: missing).envelope.encoded()
            }
            let path = manifest.services.flatMap(\.rpcs).first { $0.scriptHash == missing[0] }?.scriptPath ?? "?"
            return RPCReply.exception(RPCError(.deployRejected, "the deploy lacks the text of \(path) (\(missing[0].prefix(12)))"))
        }
        if unattendedReason() != nil { return mend(manifest, texts: texts, peer: peer) }
        if let refusal = probe(manifest, texts: texts) {
            logger.warning("deploy from \(peer) rejected: \(refusal)")
            return RPCReply.exception(RPCError(.deployRejected, refusal))
        }
        guard let round = beginRound() else {
            return RPCReply.exception(RPCError(.deployRejected, "no worker of server \(name) was ready for a minute; try again in a moment"))
        }
        defer { endRound() }
        let manifestJSON = manifest.json.jsonText
        for pid in round.workers {
            channel(of: pid)?.send(.prepare(round: round.number, manifest: manifestJSON, scripts: texts))
        }
        let prepared = round.waitForPrepared(until: Date().addingTimeInterval(600)) ?? [:]
        if let refusal = Self.refusal(prepared, expected: round.workers.count) {
            abort(round, refusal)
            logger.warning("deploy from \(peer) rejected: \(refusal)")
            return RPCReply.exception(RPCError(.deployRejected, refusal))
        }
        let results = prepared.values.compactMap { if case .swapped(let result) = $0 { result } else { nil } }
        if results.count == round.workers.count {
            logger.info("deploy from \(peer) changed nothing: generation \(results[0].generation)")
            return results[0].envelope.encoded()
        }
        do throws(DeployError) {
            for (hash, text) in texts { try store.storeScript(hash, text) }
            try store.storeManifest(manifest)
        } catch {
            abort(round, error.message)
            logger.warning("deploy from \(peer) rejected: \(error.message)")
            return RPCReply.exception(RPCError(.deployRejected, error.message))
        }
        for pid in round.workers { channel(of: pid)?.send(.commit(round: round.number)) }
        let swapped = round.waitForSwapped(until: Date().addingTimeInterval(60)) ?? [:]
        store.removeScripts(except: manifest.scriptHashes)
        let changed = swapped.values.compactMap { if case .swapped(let result) = $0, result.changed { result } else { nil } }
        guard let result = changed.first else {
            return RPCReply.exception(RPCError(.deployRejected, "the deploy was stored but no worker confirmed the swap; the workers restart on it"))
        }
        try? store.storeGeneration(result.generation)
        forgetRetiredStatistics(outside: manifest)
        logger.info("deploy from \(peer) applied: generation \(result.generation) in \(changed.count) worker\(changed.count == 1 ? "" : "s")")
        return result.envelope.encoded()
    }

    /// Loads the deploy's new scripts in a process of their own first: one that crashes the
    /// interpreter as it loads (a segfault in an extension, `os._exit`) then costs that process,
    /// not a worker — nor the connection of the client waiting for the answer. Nil: they load.
    /// `whole`: every script of the manifest, not only those the running state lacks.
    private func probe(_ manifest: ServerManifest, texts: [String: String], whole: Bool = false) -> String? {
        let running = whole ? [] : (try? store.loadManifest()).flatMap { $0 }?.scriptHashes ?? []
        var trial = manifest
        trial.services = manifest.services.compactMap { service in
            var service = service
            service.rpcs = service.rpcs.filter { !running.contains($0.scriptHash) }
            return service.rpcs.isEmpty ? nil : service
        }
        guard !trial.services.isEmpty else { return nil }
        let spawned: WorkerSpawner.Spawned
        do {
            spawned = try state.withLockedValue { state in
                let spawned = try WorkerSpawner.spawn(arguments: options.workerArguments + ["--worker", "--probe"], listener: listener)
                state.probe = DeployRound(number: 0, workers: [spawned.pid])
                state.scoreboards[spawned.pid] = spawned.scoreboard
                return spawned
            }
        } catch {
            return "cannot start a process to load the new scripts: \(error)"
        }
        let channel = ControlChannel(fd: spawned.control)
        follow(spawned.pid, channel)
        defer {
            kill(spawned.pid, SIGKILL)
            channel.hangUp()
            state.withLockedValue { $0.probe = nil }
        }
        let round = state.withLockedValue { $0.probe! }
        channel.send(.prepare(round: 0, manifest: trial.json.jsonText, scripts: texts.filter { !running.contains($0.key) }))
        let replies = round.waitForPrepared(until: Date().addingTimeInterval(600)) ?? [:]
        switch replies[spawned.pid] {
        case .prepared?, .swapped?: return nil
        case .failed(let message)?: return message
        case .died(let how)?: return "loading the new scripts crashed the interpreter (the process that tried them \(how.replacingOccurrences(of: "killed by", with: "was killed by"))); \(whole ? "nothing changed" : "the running generation keeps serving")"
        case nil: return "the new scripts did not finish loading within 10 minutes"
        }
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
        for pid in round.workers { channel(of: pid)?.send(.abort(round: round.number, reason: reason)) }
    }

    /// Waits until no worker is starting (it would load the state on disk while the round
    /// changes it), then holds replacements back until `endRound`. Nil: no moment like that
    /// came within a minute.
    private func beginRound() -> DeployRound? {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let round = state.withLockedValue { state -> DeployRound? in
                let live = state.workers.values.filter { $0.leaving == nil }
                guard !live.isEmpty, live.allSatisfy(\.ready) else { return nil }
                state.deploying = true
                let round = DeployRound(number: state.nextRound, workers: live.map(\.pid).sorted())
                state.nextRound += 1
                state.round = round
                return round
            }
            if let round { return round }
            usleep(10_000)
        }
        return nil
    }

    /// Replaces the workers that died during the round.
    private func endRound() {
        state.withLockedValue { state in
            state.deploying = false
            state.round = nil
        }
        for _ in 0..<max(0, options.processes - liveWorkers) { spawnWorker() }
    }
}
