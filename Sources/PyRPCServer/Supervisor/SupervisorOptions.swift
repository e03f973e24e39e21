/// How a supervisor runs its workers (`pyrpc serve --processes N`).
public struct SupervisorOptions: Sendable {
    /// The workers' own options. The supervisor takes from them what it shares with them: the
    /// state directory, the shutdown grace, the deploy token (it checks deploys itself while a
    /// crash loop leaves no worker: `CrashLoopDesk`) and the message limit the desk reads with.
    public var server: ServerOptions
    /// Worker processes kept running.
    public var processes = 1
    /// What a worker is started with after the executable's name: `serve NAME` and the
    /// server's flags; the supervisor adds `--worker`.
    public var workerArguments: [String] = []
    /// Added to a worker's environment (how it gets its settings).
    public var workerEnvironment: [String: String] = [:]
    /// Where the operations port listens (`--metrics-listen`); nil: none.
    public var operations: (host: String, port: Int)?
    /// On SIGTERM, seconds the server keeps accepting and serving while `/readyz` says it
    /// drains, so that load balancers polling it move traffic away first (`--drain-seconds`).
    public var drainSeconds = 0.0

    /// `server` must name a state directory: the supervisor owns it.
    public init(server: ServerOptions) {
        precondition(server.stateDirectory != nil, "a supervisor needs a state directory")
        self.server = server
    }

    public var stateDirectory: String { server.stateDirectory! }
}
