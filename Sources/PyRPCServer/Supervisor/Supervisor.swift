import CLinux
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PyRPCTLS
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve NAME --processes N`: a small process that runs no Python. It owns the
/// listening socket, the state directory and the deploy protocol, and keeps N worker
/// processes — each a fresh start of this binary with its own interpreter — accepting on that
/// one socket. A worker that dies is replaced at once (backing off when it keeps dying);
/// connections the kernel queued meanwhile are taken by the others or by its successor.
///
/// This type is the lifecycle: start, stop, and what happens when a child exits or speaks.
/// The rest is in parts of their own: `WorkerSet` (who runs, how they ended), `RollingRestart`
/// (SIGHUP), `DeployCoordinator` (deploys in every worker, all or nothing), `StatsAggregator`
/// (STATS-RES over the workers) and `CrashLoopDesk` (answers while no worker can).
public final class Supervisor: Sendable {
    public let name: String
    public let address: SocketAddress
    let options: SupervisorOptions
    let logger: Logger
    let workers = WorkerSet()
    let launcher: WorkerLauncher
    let stats: StatsAggregator
    /// The state directory: the generation served, for `/metrics`.
    let store: StateStore
    private let deploys: DeployCoordinator
    private let heartbeat: Heartbeat
    private let relay: ConnectionRelay
    private let desk = NIOLockedValueBox<CrashLoopDesk?>(nil)
    let operations = NIOLockedValueBox<OperationsServer?>(nil)
    /// What `GET /metrics` shows: every process's counts, and their Prometheus rendering.
    let metrics = ServerMetrics()
    let exposition = MetricsExposition()
    /// SIGTERM came: `/readyz` says so while the server still serves (`drain`).
    let draining = NIOLockedValueBox(false)
    /// Deploys and SIGHUP replacements run here, one at a time; they may block.
    private let coordination = DispatchQueue(label: "pyrpc.supervisor")

    /// The server's TLS settings, for the crash-loop desk (each worker makes its own from the
    /// files' contents its launcher hands it); nil: plain TCP.
    private let tls: TLSContext?

    public init(name: String, host: String, port: Int, options: SupervisorOptions, logger: Logger) throws {
        self.name = name
        self.options = options
        self.logger = logger
        let store = try StateStore(directory: options.stateDirectory)
        self.store = store
        // Read here, so that a certificate that does not load stops the start (the workers
        // would die of it one after the other); the workers get what was read.
        let loaded = try options.server.tls?.load()
        tls = loaded?.context
        let (listener, address) = try Sockets.listen(host: host, port: port)
        self.address = address
        launcher = WorkerLauncher(
            listener: listener, arguments: options.workerArguments, environment: options.workerEnvironment, processes: options.processes,
            tlsMaterial: loaded?.material, metrics: metrics)
        stats = StatsAggregator(name: name, workers: workers, store: store)
        heartbeat = Heartbeat(workers: workers)
        relay = ConnectionRelay(workers: workers, logger: logger)
        let service = DeployService(serverName: name, store: store, guardian: DeployGuard(token: options.server.deployToken, operators: Set(options.server.tls?.operators ?? [])),
            limits: DeployLimits(options.server), logger: logger, tally: metrics.own)
        deploys = DeployCoordinator(
            name: name, processes: options.processes, service: service, store: store, workers: workers,
            launcher: launcher, stats: stats, logger: logger)
        deploys.startMissingWorkers = { [weak self] in self?.startMissingWorkers() }
        deploys.follow = { [weak self] pid, channel, exited in self?.followTrial(pid, channel, exited: exited) }
    }

    /// Starts the workers; returns at once (they become ready on their own).
    public func start() {
        for _ in 0..<options.processes { spawnWorker() }
        heartbeat.start()
        let desk = CrashLoopDesk(
            listener: launcher.listener, maxMessageBytes: options.server.maxMessageBytes, tls: tls, workers: workers, board: metrics.own,
            unattended: { [weak self] in self?.unattendedReason() },
            answerAdmin: { [weak self] envelope, peer in self?.answerAdmin(envelope, from: peer) ?? [] })
        desk.start()
        self.desk.withLockedValue { $0 = desk }
        startOperations()
        logger.info("server \(name) listening on \(PyRPCServer.describe(address)) with \(options.processes) worker process\(options.processes == 1 ? "" : "es")")
        if let warning = DeployGuard.startWarning(hasToken: options.server.deployToken != nil, encrypted: options.server.tls != nil, listeningOn: address) {
            logger.warning("\(warning)")
        }
    }

    /// Waits until `count` workers accept connections. Throws when the first workers fail
    /// with a configuration error (a venv for another Python, an unreadable state directory):
    /// replacing them would fail the same way for ever.
    public func waitUntilReady(_ count: Int, timeout: Duration = .seconds(120)) async throws {
        let deadline = Date() + Double(timeout.components.seconds)
        let workers = self.workers
        let outcome = await Blocking.run {
            workers.wait(until: deadline) { contents -> Result<Void, DeployError>? in
                if let failure = contents.startupFailure { return .failure(DeployError(message: failure)) }
                return contents.readyCount >= count ? .success(()) : nil
            }
        }
        guard let outcome else { throw DeployError(message: "the workers did not start within \(timeout)") }
        try outcome.get()
    }

    /// SIGHUP: the TLS files are read again for the workers started from now on; files that
    /// do not load leave them the ones read before.
    func reloadTLS() {
        guard let files = options.server.tls else { return }
        do {
            let material = try files.load().material
            launcher.tlsMaterial.withLockedValue { $0 = material }
            logger.info("read the TLS certificate and key again (\(files.certificate)); new workers use them")
        } catch {
            logger.error("cannot load the TLS files again: \(error); the workers keep the certificate read before (fix the files, then SIGHUP again)")
        }
    }

    /// SIGHUP: replaces the workers one by one (`RollingRestart`), then runs `done`.
    public func replaceWorkers(then done: (@Sendable () -> Void)? = nil) {
        coordination.async { [self] in
            RollingRestart(supervisor: self).run()
            done?()
        }
    }

    /// The supervisor's record of its workers can be read: its threads are not deadlocked
    /// (what systemd's watchdog asks).
    public var isResponsive: Bool { workers.read { _ in true } }

    /// Stops accepting, lets the workers finish their calls (up to the shutdown grace), and
    /// ends them all.
    public func stop() async {
        draining.withLockedValue { $0 = true }
        desk.withLockedValue { $0 }?.stop()
        heartbeat.stop()
        let pids = workers.change { contents -> [pid_t] in
            contents.stopping = true
            for pid in contents.workers.keys { contents.workers[pid]?.leaving = "stopping" }
            return Array(contents.workers.keys)
        }
        for pid in pids { kill(pid, SIGTERM) }
        let workers = self.workers
        let (grace, logger) = (options.server.shutdownGrace, logger)
        await Blocking.run {
            if workers.wait(until: Date() + grace + 5, { $0.workers.isEmpty ? true : nil }) == nil {
                for pid in workers.read({ Array($0.workers.keys) }) {
                    logger.error("worker \(pid) did not stop within the shutdown grace; killing it")
                    kill(pid, SIGKILL)
                }
                _ = workers.wait(until: Date() + 5) { $0.workers.isEmpty ? true : nil }
            }
        }
        _ = shutdown(launcher.listener, Int32(SHUT_RDWR))
        close(launcher.listener)
        operations.withLockedValue { $0 }?.stop()
        logger.info("server \(name) stopped")
    }

    // MARK: Workers

    /// Starts a worker in `place`, or in the first place no worker fills; its pid, or nil
    /// when the server is stopping or the start failed (it is then tried again in 1 s).
    @discardableResult
    func spawnWorker(place: Int? = nil) -> pid_t? {
        // Under the lock: two starts cannot take the same place.
        let started: (pid: pid_t, channel: ControlChannel)? = workers.change { contents in
            guard !contents.stopping else { return nil }
            let place = place ?? contents.freePlace
            do {
                let spawned = try launcher.spawnWorker()
                contents.workers[spawned.pid] = WorkerSet.Worker(pid: spawned.pid, place: place, channel: spawned.channel)
                return spawned
            } catch {
                logger.error("cannot start a worker: \(error); trying again in 1 s")
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [self] in spawnWorker(place: place) }
                return nil
            }
        }
        guard let (pid, channel) = started else { return nil }
        launcher.follow(
            pid, channel, received: { [self] message in handle(message, from: pid) },
            closed: { [self] in
                workers.change { $0.workers[pid]?.controlClosed = true }
                stats.retire(pid)
            },
            exited: { [self] status in exited(pid, status: status) })
        return pid
    }

    /// A deploy's trial process: its messages go to its round, its exit to `exited`.
    private func followTrial(_ pid: pid_t, _ channel: ControlChannel, exited: @escaping @Sendable (String) -> Void) {
        launcher.follow(
            pid, channel, received: { [self] message in handle(message, from: pid) }, closed: {},
            exited: { [launcher] status in exited(launcher.exit(of: pid, status: status).how) })
    }

    /// Starts the workers that `--processes` lacks (after a deploy round, which held them back).
    func startMissingWorkers() {
        for _ in 0..<max(0, options.processes - workers.read { $0.live.count }) { spawnWorker() }
    }

    /// A replacement, unless the workers are already there (the end of a deploy round
    /// started it before a backed-off replacement was due) or a deploy round will start it.
    private func spawnIfShort() {
        let short = workers.read { !$0.deploying && $0.live.count < options.processes }
        if short { spawnWorker() }
    }

    /// Stops `pid` gracefully, without replacing it: it finishes its calls and hands its
    /// connections to the other workers (`ConnectionRelay`).
    func retire(_ pid: pid_t, because reason: String) {
        let channel = workers.change { contents -> ControlChannel? in
            guard contents.workers[pid] != nil else { return nil }
            contents.workers[pid]?.leaving = reason
            return contents.workers[pid]?.channel
        }
        // Without its control socket it cannot hand anything over: it just stops.
        if let channel, !channel.send(.retire(reason: reason)) { kill(pid, SIGTERM) }
    }

    /// A worker asked for a successor (`retiring`): it leaves once the successor is ready,
    /// so that its connections have somewhere to go, even with one process.
    private func succeed(_ pid: pid_t, because reason: String) {
        let place = workers.read { $0.workers[pid]?.place }
        guard let place, let successor = spawnWorker(place: place) else { return retire(pid, because: reason) }
        DispatchQueue.global().async { [self] in
            _ = workers.wait(until: Date() + RollingRestart.patience) { contents in
                contents.stopping || contents.workers[successor]?.ready != false ? true : nil
            }
            retire(pid, because: reason)
        }
    }

    /// A worker exited: replaced unless it was stopped on purpose.
    private func exited(_ pid: pid_t, status: Int32) {
        let exit = launcher.exit(of: pid, status: status)
        let how = exit.how
        let ended = workers.change { contents -> (worker: WorkerSet.Worker, delay: Double?)? in
            guard let worker = contents.workers.removeValue(forKey: pid) else { return nil }
            let why = worker.leaving.map { "\(how) (\($0))" } ?? how
            defer { contents.history.ended(pid, why: why, place: contents.stopping ? nil : worker.place) }
            if !contents.stopping, let restart = WorkerRestart(leaving: worker.leaving) { metrics.restarted(restart) }
            if contents.stopping || worker.leaving != nil { return (worker, nil) }
            if !contents.everReady, WorkerSpawner.exitCode(status: status) == 2 {
                contents.startupFailure = "a worker could not start (\(how)); its error is above"
                contents.stopping = true
                return (worker, nil)
            }
            // A call that kills its worker says nothing about the workers' start: replaced at
            // once. (A worker runs calls only once it accepts, after its state loaded; its
            // `ready` may still be on its way when the exit is seen.)
            let startedFine = exit.inCall
            let servedLong = worker.readyAt.map { ContinuousClock.now - $0 >= .seconds(1) } ?? false
            let delay = contents.history.crashed(servedLong: servedLong, startedFine: startedFine)
            return (worker, contents.deploying ? nil : delay)
        }
        deploys.died(pid, how: how)
        stats.exited(pid, counted: exit.statistics)
        guard let (worker, delay) = ended else { return }
        // Its control socket is not hung up here: what the worker sent last (connections it
        // handed over as it died) is still to be read; the reader sees the end after that.
        stats.forget(pid)
        if let leaving = worker.leaving {
            logger.info("worker \(pid) \(how) (\(leaving))")
            // Its successor died as it started: one more, after a pause (not in a tight loop).
            if workers.read({ !$0.stopping && $0.live.count < options.processes }) {
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [self] in spawnIfShort() }
            }
            return
        }
        let (stopping, live, crashes) = workers.read { ($0.stopping, $0.live.count, $0.history.crashesInARow) }
        if stopping { return }
        if live >= options.processes {
            // A SIGHUP successor that died while the worker it was to replace still serves.
            logger.warning("worker \(pid) \(how) before it took over; the worker it was to replace serves on")
            return
        }
        guard let delay else {
            logger.warning("worker \(pid) \(how); it is replaced once the deploy in progress ends")
            return
        }
        if crashes >= 3 {
            logger.error("worker \(pid) \(how): crash loop, \(crashes) crashes in a row; starting another in \(delay) s")
        } else {
            logger.warning("worker \(pid) \(how); starting another")
        }
        workers.change { $0.history.nextAttempt = .now + .milliseconds(Int64(delay * 1000)) }
        if delay == 0 {
            spawnIfShort()
        } else {
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in spawnIfShort() }
        }
    }

    private func handle(_ message: ControlMessage, from pid: pid_t) {
        switch message {
        case .ready(_, let generation):
            let known = workers.change { contents -> Bool in
                guard contents.workers[pid] != nil else { return false }
                contents.workers[pid]?.readyAt = .now
                contents.everReady = true
                return true
            }
            if known {
                logger.info("worker \(pid) ready (generation \(generation))")
                relay.welcome(pid)
            }
        case .deploy(let request, let firstStep, let manifest, let scripts, let sizes, let peer):
            coordination.async { [self] in
                let deploy = DeployRequest(manifest: manifest, scripts: scripts, sizes: sizes, token: nil, firstStep: firstStep)
                let answer = deploys.deploy(deploy, peer: peer, unattended: unattendedReason() != nil)
                workers.channel(of: pid)?.send(.answer(request: request, answer: answer))
            }
        case .deployPieces(let request, let pieces, let server, let peer):
            // Not behind a deploy on the coordination queue: pieces only add to the uploads.
            DispatchQueue.global().async { [self] in
                let answer = deploys.service.receive(DeployPieces(server: server, pieces: pieces, token: nil), peer: peer)
                workers.channel(of: pid)?.send(.answer(request: request, answer: answer))
            }
        case .statsRequest(let request):
            DispatchQueue.global().async { [self] in
                workers.channel(of: pid)?.send(.answer(request: request, answer: stats.statistics().envelope.encoded()))
            }
        case .stats(let number, let snapshot):
            stats.record(snapshot, gathering: number, from: pid)
        case .prepared(let number, let error):
            deploys.record(error.map { .failed($0) } ?? .prepared, round: number, from: pid)
        case .swapped(let number, let result):
            deploys.record(.swapped(result), round: number, from: pid)
        case .retiring(let reason):
            logger.warning("worker \(pid) retires: \(reason); starting its successor")
            succeed(pid, because: reason)
        case .handOver(let transfer):
            relay.relay(transfer, from: pid)
        case .leaving:
            relay.closeDoor(of: pid)
        case .answer, .prepare, .commit, .abort, .collectStats, .retire, .adopt, .noMoreConnections, .startAccepting:
            logger.warning("unexpected control message from worker \(pid): \(message)")
        }
    }

    // MARK: A crash loop with no worker

    /// Why no worker serves, while a crash loop leaves none ready (`CrashLoopDesk` then
    /// answers clients); nil otherwise.
    func unattendedReason() -> String? {
        workers.read { contents in
            guard contents.unattended else { return nil }
            let history = contents.history
            let latest = history.exits.last.map { "; the latest: worker \($0.pid) \($0.how)" } ?? ""
            let next = history.nextAttempt.map { max(0, ServerCore.seconds(since: $0) * -1) }.map { "; the next starts in \((($0 * 10).rounded() / 10)) s" } ?? ""
            return "server \(name) has no worker running: its workers die as they start (\(history.crashesInARow) in a row\(latest))\(next). See the server's log; a `pyrpc deploy` that fixes the script is applied at once"
        }
    }

    /// What the supervisor answers itself while no worker serves: statistics and deploys.
    private func answerAdmin(_ envelope: Envelope, from peer: Peer) -> [UInt8] {
        if envelope.header == Header.statsRequest {
            // No worker to say which client asks: only the operator sees statistics now.
            guard deploys.service.guardian.mayInspect(token: envelope.value["token"]?.stringValue, peer: peer) else {
                logger.warning("unauthorized STATS-REQ from \(peer.withCertificate) refused while no worker serves")
                return RPCReply.exception(RPCError(.clientNotRegistered, "only this host, the deploy token or the operator's certificate may see statistics while no worker serves"))
            }
            return stats.statistics().envelope.encoded()
        }
        if envelope.header == Header.deployPieces {
            switch deploys.service.admitPieces(envelope, from: peer) {
            case .failure(let error): return RPCReply.exception(error)
            case .success(let pieces): return deploys.service.receive(pieces, peer: peer.address)
            }
        }
        switch deploys.service.admit(envelope, from: peer) {
        case .failure(let error):
            return RPCReply.exception(error)
        case .success(let request):
            return coordination.sync { deploys.deploy(request, peer: peer.address, unattended: unattendedReason() != nil) }
        }
    }
}
