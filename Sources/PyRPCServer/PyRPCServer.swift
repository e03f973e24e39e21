import Logging
import NIOCore
import NIOPosix
import PyRPCPython
import PyRPCWire
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
/// Several servers can run in one process (`pyrpc up`); they share the interpreter and the
/// event loops but each has its own workers, limits and RPCs.
public final class PyRPCServer: Sendable {
    public let name: String
    let core: ServerCore
    private let group: EventLoopGroup
    private let channels = Mutex<[Channel]>([])

    /// Fails only when the state directory cannot be created.
    public init(name: String, options: ServerOptions = ServerOptions(), logger: Logger? = nil,
                group: EventLoopGroup = EventLoops.shared) throws {
        var logger = logger ?? Logger(label: "pyrpc.server")
        logger[metadataKey: "server"] = .string(name)
        self.name = name
        self.group = group
        core = try ServerCore(name: name, options: options, logger: logger)
    }

    /// Loads the last deployed state from the state directory, if any. Returns the number of
    /// RPCs restored.
    @discardableResult
    public func restoreState() async throws(DeployError) -> Int {
        guard let store = core.store, let manifest = try store.loadManifest() else { return 0 }
        let report = try await install(manifest, sources: [:])
        core.logger.info("restored \(report.added) rpcs from \(store.directory)")
        return report.added
    }

    public var options: ServerOptions { core.options }

    /// Listens on `host:port` (port 0 picks a free one) and returns the bound address.
    @discardableResult
    public func start(host: String, port: Int) async throws -> SocketAddress {
        let core = self.core
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Set on the listener, TCP_NODELAY is inherited by every accepted socket on Linux:
            // no setsockopt per connection.
            .serverChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Set here rather than as a child channel option, which NIO applies through
                    // a chain of futures on every accept.
                    try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ConnectionHandler(core: core))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        channels.withLock { $0.append(channel) }
        let address = channel.localAddress!
        core.logger.info("server \(name) listening on \(ConnectionHandler.describeWithPort(address))")
        return address
    }

    /// The addresses the server listens on.
    public var localAddresses: [SocketAddress] {
        channels.withLock { channels in channels.compactMap { $0.localAddress } }
    }

    /// Swaps in the RPCs of `manifest` atomically (see `RPCRegistry.install`).
    /// `sources` maps SHA-256 → script text for scripts the server has not loaded.
    @discardableResult
    public func install(_ manifest: ServerManifest, sources: [String: String]) async throws(DeployError) -> DeployReport {
        let registry = core.registry
        let store = core.store
        let result: Result<DeployReport, DeployError> = await core.deploySerializer.run {
            do throws(DeployError) {
                let report = try await registry.install(manifest, sources: sources, stored: { store?.script($0) }) { manifest, sources throws(DeployError) in
                    guard let store else { return }
                    for (hash, text) in sources where manifest.scriptHashes.contains(hash) { try store.storeScript(hash, text) }
                    try store.storeManifest(manifest)
                }
                store?.removeScripts(except: manifest.scriptHashes)
                return .success(report)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The current deploy generation number (0 before the first deploy).
    public var generation: Int { core.registry.current.number }

    /// Stops accepting, lets calls in flight finish (up to the shutdown grace), then closes.
    public func stop() async {
        let listeners = channels.withLock { $0 }
        for channel in listeners { try? await channel.close() }
        let grace = core.options.shutdownGrace
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        while core.registry.current.callsInFlight > 0 || core.pool.pendingCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = ContinuousClock.now.duration(to: deadline)
        core.stopIdleSweepers()
        core.pool.shutdown(grace: max(remaining, .milliseconds(100)))
        core.logger.info("server \(name) stopped")
    }
}

