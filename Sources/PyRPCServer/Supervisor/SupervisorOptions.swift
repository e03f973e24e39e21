/// How a supervisor runs its workers (`pyrpc serve --processes N`).
public struct SupervisorOptions: Sendable {
    /// Worker processes kept running.
    public var processes = 1
    /// On SIGINT/SIGTERM, how long workers may take to finish their calls (seconds).
    public var shutdownGrace: Double = 10
    /// What a worker is started with after the executable's name: `serve NAME` and the
    /// server's flags; the supervisor adds `--worker`.
    public var workerArguments: [String] = []
    /// Added to a worker's environment (how it gets its settings).
    public var workerEnvironment: [String: String] = [:]
    public var stateDirectory: String
    /// The token deploys must carry (the workers check it, and the supervisor while it answers
    /// for a server whose workers crash as they start: `CrashLoopDesk`).
    public var deployToken: String?
    /// The largest message the crash-loop desk reads, as the workers (`--max-message-bytes`).
    public var maxMessageBytes = ServerOptions().maxMessageBytes

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }
}
