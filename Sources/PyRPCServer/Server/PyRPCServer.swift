#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Dispatch
import Logging
import NIOCore
import PyRPCPython
import PyRPCWire
import NIOConcurrencyHelpers
import Synchronization

/// One pyrpc server: a TCP listener, a Python worker pool and a registry of RPCs.
///
/// ```swift
/// let server = PyRPCServer(name: "s1")
/// let address = try await server.start(host: "127.0.0.1", port: 8181)
/// try await server.install(manifest, sources: scripts)
/// ...
/// await server.stop()
/// ```
/// Several servers can run in one process (`pyrpc up`); they share the interpreter but each
/// has its own I/O loops, workers, limits and RPCs.
public final class PyRPCServer: Sendable {
    public let name: String
    let core: ServerCore
    /// Listening sockets and their bound addresses; `shared`: a supervisor's, which other
    /// workers accept on too.
    private let listeners = NIOLockedValueBox<[(fd: Int32, address: SocketAddress, shared: Bool)]>([])
    private let retiring = Atomic<Bool>(false)
    /// A worker's loops accept on the shared listener (once: `startAccepting`).
    private let accepting = Atomic<Bool>(false)

    /// Fails only when the state directory cannot be created.
    public init(name: String, options: ServerOptions = ServerOptions(), role: ServerRole = .alone, logger: Logger? = nil) throws {
        ProcessGuard.start()
        var logger = logger ?? Logger(label: "pyrpc.server")
        logger[metadataKey: "server"] = .string(name)
        self.name = name
        core = try ServerCore(name: name, options: options, role: role, logger: logger)
    }

    /// Loads the last deployed state from the state directory, if any. Returns the number of
    /// RPCs restored.
    @discardableResult
    public func restoreState() async throws(DeployError) -> Int {
        guard let store = core.store, let manifest = try store.loadManifest() else { return 0 }
        let report: DeployReport
        if case .worker = core.role {
            // A worker: the supervisor wrote this state; take it as it is, with its number.
            report = try await core.registry.install(manifest, sources: [:], stored: { store.script($0) }, number: store.loadGeneration())
        } else {
            report = try await install(manifest, sources: [:])
        }
        core.logger.info("restored \(report.added) rpcs from \(store.directory)")
        return report.added
    }

    public var options: ServerOptions { core.options }

    /// Puts the environment the server starts with (`options.python`) on the import path,
    /// before any script loads. `adding`: another server of this process (`pyrpc up`) may have
    /// put its own there already; both then stay.
    public func useStartEnvironment(adding: Bool = false) async throws(DeployError) {
        guard let environment = core.options.python else { return }
        _ = try await core.registry.use(environment, adding: adding)
    }

    /// Listens on `host:port` (port 0 picks a free one) and returns the bound address.
    @discardableResult
    public func start(host: String, port: Int) async throws -> SocketAddress {
        let (fd, address) = try Sockets.listen(host: host, port: port)
        return try serve(listener: fd, address: address, shared: false)
    }

    /// A worker process: fatal signals write Python's tracebacks to `fd` (the log).
    public func writeCrashTracebacks(to fd: Int32) {
        PythonRuntime.shared.writeCrashTracebacks(to: fd)
    }

    /// A worker process (`pyrpc serve --processes N`): accepts on the listening socket its
    /// supervisor passed it — connections the kernel accepted stay queued there when a worker
    /// dies — and sends deploys to the supervisor over the control socket (the descriptors
    /// `WorkerSpawner` put in place). `accepting` false: a deploy's trial process, which only
    /// loads scripts it is sent.
    /// `onRetire`: the supervisor asks this worker to leave; it should `stop(handingOver: true)`.
    public func startWorker(
        accepting: Bool = true, onRetire: @escaping @Sendable (String) -> Void, onSupervisorGone: @escaping @Sendable () -> Void
    ) throws -> SocketAddress {
        let (listener, control) = (WorkerSpawner.listenerDescriptor, WorkerSpawner.controlDescriptor)
        guard let address = Sockets.localAddress(of: listener) else {
            throw SocketError("descriptor \(listener) is not a listening socket from the supervisor", errno: errno)
        }
        pyrpc_fd_mark(listener)
        pyrpc_fd_mark(control)
        let link = SupervisorLink(fd: control, core: core)
        core.supervisor.withLockedValue { $0 = link }
        link.start(onRetire: { [weak self] reason in
            self?.retiring.store(true, ordering: .relaxed)
            onRetire(reason)
        }, onClose: { [weak self] in
            self?.letGoOfSharedListeners()
            onSupervisorGone()
        })
        if accepting {
            // Ready before the first call can run.
            CrashRescue(core: core).start()
            // Accepting only once the supervisor says so (`startAccepting`), after it gave this
            // worker the connections waiting for one (a crashed worker's): their requests then
            // run before any new connection's — which could crash this worker too.
            _ = try serve(listener: listener, address: address, shared: true, accepting: false)
            WorkerWatchdog(core: core, link: link).start()
            link.whenToldToAccept { [weak self] in self?.startAccepting() }
            // Without word from the supervisor (it is busy), accepting begins anyway.
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [weak self] in self?.startAccepting() }
        }
        link.send(.ready(pid: getpid(), generation: generation))
        return address
    }

    /// A worker's loops begin accepting on the listener it shares, unless it stopped already.
    private func startAccepting() {
        guard !accepting.exchange(true, ordering: .relaxed) else { return }
        listeners.withLockedValue { listeners in
            // Under the lock: `letGoOfSharedListeners` cannot close it meanwhile.
            for listener in listeners where listener.shared {
                for loop in core.loops.all { loop.addListener(listener.fd) }
            }
        }
    }

    /// The supervisor is gone: the listening socket it shared is closed at once, before the
    /// calls in flight finish, so that a server started again on the port (a service
    /// manager's restart) can bind it. Connections already accepted are still served.
    private func letGoOfSharedListeners() {
        accepting.store(true, ordering: .relaxed)  // never again
        let shared = listeners.withLockedValue { listeners in
            defer { listeners.removeAll { $0.shared } }
            return listeners.filter(\.shared).map(\.fd)
        }
        guard !shared.isEmpty else { return }
        for loop in core.loops.all { loop.stopAccepting() }
        for fd in shared {
            pyrpc_fd_unmark(fd)
            close(fd)
        }
    }

    private func serve(listener fd: Int32, address: SocketAddress, shared: Bool, accepting: Bool = true) throws -> SocketAddress {
        let core = self.core
        let loops = listeners.withLockedValue { listeners in
            listeners.append((fd, address, shared))
            if core.loops.all.isEmpty {
                core.loops.set((0..<(core.options.ioLoops ?? EventLoops.count)).map { IOLoop(core: core, index: $0) })
            }
            return core.loops.all
        }
        if accepting { for loop in loops { loop.addListener(fd) } }
        core.logger.info("server \(name) listening on \(Self.describe(address))")
        // What it can hold: each connection takes a descriptor; keep some for scripts and files.
        let options = core.options
        let byDescriptors = ProcessGuard.descriptorLimit.map { max(0, $0 - 64) } ?? options.maxConnections
        core.logger.info("server \(name) holds at most \(min(byDescriptors, options.maxConnections)) connections (\(options.maxConnectionsPerAddress > 0 ? "\(options.maxConnectionsPerAddress)" : "no limit") per address; descriptor limit \(ProcessGuard.descriptorLimit.map(String.init) ?? "unlimited")), \(options.maxBufferedBytes >> 20) MiB of buffered messages")
        // A worker's supervisor says it once for all its workers.
        if !shared, let warning = DeployGuard.startWarning(hasToken: core.options.deployToken != nil, encrypted: core.tls != nil, listeningOn: address) {
            core.logger.warning("\(warning)")
        }
        return address
    }

    /// The addresses the server listens on.
    public var localAddresses: [SocketAddress] {
        listeners.withLockedValue { listeners in listeners.map(\.address) }
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return Sockets.endpoint(ip, port, isIPv6: address.protocol == .inet6)
    }

    /// Swaps in the RPCs of `manifest` atomically (see `RPCRegistry.install`).
    /// `sources` maps SHA-256 → script text for scripts the server has not loaded.
    @discardableResult
    public func install(_ manifest: ServerManifest, sources: [String: String]) async throws(DeployError) -> DeployReport {
        let (service, registry) = (core.deployService, core.registry)
        let result: Result<DeployReport, DeployError> = await core.deploySerializer.run {
            do throws(DeployError) {
                return .success(try await service.install(manifest, sources: sources, into: registry))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// A worker its supervisor asked to leave (see `startWorker`): it should stop handing its
    /// connections over.
    public var isRetiring: Bool { retiring.load(ordering: .relaxed) }

    /// The current deploy generation number (0 before the first deploy).
    public var generation: Int { core.registry.current.number }

    /// Stops accepting, lets calls in flight finish (up to the shutdown grace), then closes
    /// every connection. `handingOver`: a worker that leaves while its server goes on hands
    /// its connections to the supervisor (for another worker) instead of closing them.
    public func stop() async {
        await stop(handingOver: false)
    }

    public func stop(handingOver: Bool) async {
        let (listening, owned) = listeners.withLockedValue { ($0.map(\.fd), $0.filter { !$0.shared }.map(\.fd)) }
        let loops = core.loops.all
        for loop in loops { loop.stopAccepting() }
        // A listener shut down refuses new connections at once; it is closed only after the
        // loops stop, so its number cannot be reused while a loop may still hold an event for it.
        // A shared one stays open: the other workers go on accepting its connections.
        for fd in owned { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        let grace = core.options.shutdownGrace
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        // A worker being replaced may have accepted a connection whose request is still on its
        // way: it waits for a quiet moment (no call for 300 ms), so that request is answered too.
        let quietPeriod: Duration = listening.count > owned.count ? .milliseconds(300) : .zero
        var quietSince = ContinuousClock.now
        if handingOver {
            // Each connection leaves once it owes no call: all gone means no call left either.
            core.beginHandOver()
            let left = await Blocking.run { [core] in core.waitForHandOver(until: deadline) }
            if left > 0 { core.logger.warning("\(left) connection\(left == 1 ? "" : "s") not handed over within the shutdown grace (a call still running); closing") }
        }
        // A poll: quiet is the absence of calls over a stretch of time, which no event marks.
        while !handingOver, ContinuousClock.now < deadline {
            // Calls past their deadline were answered Timeout: nobody waits for them any more.
            let answered = core.pool.runningJobs.filter { $0.overdue != nil }.count
            if core.registry.current.callsInFlight > answered || core.pool.pendingCount > 0 {
                quietSince = ContinuousClock.now
            } else if ContinuousClock.now - quietSince >= quietPeriod {
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = ContinuousClock.now.duration(to: deadline)
        for loop in loops { await loop.stop(wait: .seconds(1)) }
        for fd in listening {
            pyrpc_fd_unmark(fd)
            _ = close(fd)
        }
        listeners.withLockedValue { $0 = [] }
        // The loops close their descriptors once their threads have ended.
        core.loops.set([])
        core.pool.shutdown(grace: max(remaining, .milliseconds(100)))
        // Calls that ignore the timeout's interrupt (`except BaseException: pass`) or are stuck
        // in C keep their threads; the process exits without them, but says which they are.
        for job in core.pool.runningJobs {
            let overdue = job.overdue.map { " (\(ServerCore.formatSeconds(Double($0.components.seconds))) s past its deadline)" } ?? ""
            core.logger.error("stopping with a call still running\(overdue): \(job.label)")
        }
        core.logger.info("server \(name) stopped")
        // A worker's last counters and latencies: its supervisor keeps them for `pyrpc stats`.
        core.supervisor.withLockedValue { $0 }?.sendFinalStatistics()
    }
}

