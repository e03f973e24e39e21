import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import PyRPCConfig
import PyRPCWire
import PyRPCServer

/// Options every command that reads init.yaml shares.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The network description to read.")
    var config: String = "init.yaml"

    func load(required: Bool = true) throws -> NetworkConfig? {
        try loadNetwork(config, required: required)
    }
}

/// Reads init.yaml; a missing or invalid file is a usage error (exit 2) with file:line:column.
func loadNetwork(_ path: String, required: Bool = true) throws -> NetworkConfig? {
    if !required && !FileManager.default.fileExists(atPath: path) { return nil }
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        throw CLIExit.usage("\(error)")
    }
}

/// Server limits and logging (SPEC §8).
struct ServerFlags: ParsableArguments {
    @Option(help: "Largest accepted message in bytes.")
    var maxMessageBytes: Int = 16 << 20
    @Option(help: "Seconds before an idle connection is closed.")
    var idleTimeout: Double = 300
    @Option(help: "Longest a call may run, in seconds (per-rpc `timeout:` and per-request `timeout` can only shorten it).")
    var callTimeout: Double = 30
    @Option(help: "Calls that may wait for a Python worker; beyond this callers get Server Busy.")
    var maxPending: Int = 1024
    @Option(help: "Python worker threads per server (blocking calls overlap at least this many).")
    var workers: Int = 8
    @Option(help: "Seconds calls in flight may take to finish on SIGINT/SIGTERM.")
    var shutdownGrace: Double = 10
    @Flag(help: "Include Python tracebacks in Execution Exception messages.")
    var debug = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"
    @Option(help: "A file holding the deploy token deploys must carry (default: $PYRPC_DEPLOY_TOKEN; none: loopback and network nodes only).")
    var deployTokenFile: String?
    @Option(help: "Open connections the server keeps; more are closed at once.")
    var maxConnections: Int = 10_000
    @Option(name: .customLong("max-connections-per-ip"), help: "Open connections from one IP address; more are closed at once.")
    var maxConnectionsPerIP: Int = 1_000
    @Option(help: "Bytes of unframed input and unwritten answers, all connections together; past it the biggest holders get Bad Request and are closed.")
    var maxBufferedBytes: Int = 256 << 20
    @Option(help: "Seconds a message that started arriving may take to arrive whole (slowloris); idle connections fall under --idle-timeout.")
    var messageTimeout: Double = 30
    @Option(help: "A virtual environment the scripts import from (its site-packages go on sys.path); overrides init.yaml's `python: {venv:}`.")
    var venv: String?
    @Option(help: "With --processes: seconds a call may stay stuck past its deadline (answered Timeout, still running) before its worker is replaced.")
    var harakiriGrace: Double = 10
    @Option(help: "With --processes: replace a worker gracefully after about this many calls (up to 10% more, so workers do not recycle together).")
    var maxRequests: Int?
    @Option(name: .customLong("max-rss"), help: "With --processes: replace a worker gracefully once its resident memory passes this many MiB.")
    var maxRSS: Int?

    var options: ServerOptions {
        var options = ServerOptions()
        options.maxMessageBytes = maxMessageBytes
        options.idleTimeout = idleTimeout
        options.callTimeout = callTimeout
        options.maxPendingCalls = maxPending
        options.pythonWorkers = workers
        options.shutdownGrace = shutdownGrace
        options.debug = debug
        options.deployToken = try? deployToken()
        options.maxConnections = maxConnections
        options.maxConnectionsPerAddress = maxConnectionsPerIP
        options.maxBufferedBytes = maxBufferedBytes
        options.messageTimeout = messageTimeout
        options.venv = venv.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        options.harakiriGrace = harakiriGrace
        options.maxRequests = maxRequests
        options.maxResidentMegabytes = maxRSS
        return options
    }

    /// What server `name` starts with: init.yaml's `python:` for it (when a file was read),
    /// `--venv` over its venv. Folders missing on this machine are configuration errors.
    func startEnvironment(_ network: NetworkConfig?, server name: String) throws -> PythonEnvironment? {
        if let network {
            let problems = network.pythonProblems(server: name)
            if !problems.isEmpty { throw CLIExit.usage(problems.map(\.description).joined(separator: "\n")) }
        }
        var environment = network?.server(named: name)?.python.environment
        if let venv = options.venv {
            environment = environment ?? PythonEnvironment()
            environment?.venv = venv
        }
        return environment
    }

    func validate() throws {
        guard maxMessageBytes > 0, idleTimeout > 0, callTimeout > 0, maxPending > 0, workers > 0, shutdownGrace >= 0,
              maxConnections > 0, maxConnectionsPerIP > 0, maxBufferedBytes > 0, messageTimeout > 0, harakiriGrace >= 0,
              (maxRequests ?? 1) > 0, (maxRSS ?? 1) > 0 else {
            throw ValidationError("limits must be positive numbers")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'; use trace, debug, info, notice, warning, error or critical")
        }
    }

    func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        _ = LogFile.descriptor  // copied before any script can close standard error
        LoggingSystem.bootstrap { label in LogFileHandler(label: label, level: level) }
    }
}

/// `HOST:PORT`, `[::1]:8181` or `::1:8181`.
func parseEndpoint(_ text: String) throws -> (host: String, port: Int) {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
        host = text[text.index(after: text.startIndex)..<close]
        portText = text[text.index(after: close)...].drop { $0 == ":" }
    } else if let colon = text.lastIndex(of: ":") {
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
    } else {
        throw CLIExit.usage("'\(text)' is not HOST:PORT (e.g. 127.0.0.1:8181 or [::1]:8181)")
    }
    guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else {
        throw CLIExit.usage("'\(text)' is not HOST:PORT (e.g. 127.0.0.1:8181 or [::1]:8181)")
    }
    if host == "*" { host = "0.0.0.0" }
    return (String(host), port)
}

func formatEndpoint(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}

/// SIGINT and SIGTERM, caught from the moment this is made (Python installs no handlers of
/// its own: see PythonRuntime): one that arrives while a server is still starting is kept,
/// not fatal. With `hangUps`, SIGHUP runs what `onHangUp` set (a supervisor replaces its
/// workers) instead of ending the process.
final class TerminationSignals: Sendable {
    private let received = NIOLockedValueBox<(signal: Int32?, waiting: CheckedContinuation<Int32, Never>?)>((nil, nil))
    private let hangUpAction = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    /// Kept only to stay alive (and be cancelled in deinit); never read across threads.
    nonisolated(unsafe) private let sources: [DispatchSourceSignal]

    init(hangUps: Bool = false) {
        let queue = DispatchQueue(label: "pyrpc.signals")
        var sources: [DispatchSourceSignal] = []
        let received = self.received
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                let waiting = received.withLockedValue { state -> CheckedContinuation<Int32, Never>? in
                    guard state.signal == nil else { return nil }
                    state.signal = signalNumber
                    defer { state.waiting = nil }
                    return state.waiting
                }
                waiting?.resume(returning: signalNumber)
            }
            source.resume()
            sources.append(source)
        }
        if hangUps {
            signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
            let action = hangUpAction
            source.setEventHandler { action.withLockedValue { $0 }?() }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func onHangUp(_ action: @escaping @Sendable () -> Void) {
        hangUpAction.withLockedValue { $0 = action }
    }

    /// The first SIGINT or SIGTERM (at once if one came already).
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let early = received.withLockedValue { state -> Int32? in
                if let signal = state.signal { return signal }
                state.waiting = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}

/// The starting servers' common path for `up` and `serve`: a server, listening.
func startServer(name: String, host: String, port: Int, options: ServerOptions) async throws -> PyRPCServer {
    let server = try makeServer(name: name, options: options)
    try await startListening(server, host: host, port: port)
    return server
}

func makeServer(name: String, options: ServerOptions) throws -> PyRPCServer {
    do {
        return try PyRPCServer(name: name, options: options)
    } catch {
        throw CLIExit.usage("\(error)")
    }
}

func startListening(_ server: PyRPCServer, host: String, port: Int) async throws {
    do {
        try await server.start(host: host, port: port)
    } catch {
        let text = "\(error)"
        let hint = text.contains("in use") || text.contains("Address already") ? " (is another pyrpc already running? stop it or change the port in init.yaml)" : ""
        throw CLIExit.network("server \(server.name) cannot listen on \(formatEndpoint(host, port)): \(error)\(hint)")
    }
}

/// Makes printed lines visible at once when stdout is a pipe (tests, `| tee`).
func flushStandardOutput() {
    fflush(nil)
}

extension ServerFlags {
    /// The token from --deploy-token-file or PYRPC_DEPLOY_TOKEN.
    func deployToken() throws -> String? {
        try readDeployToken(file: deployTokenFile)
    }
}

func readDeployToken(file: String?) throws -> String? {
    if let file {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw CLIExit.usage("cannot read the deploy token file \(file)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }
    let token = ProcessInfo.processInfo.environment["PYRPC_DEPLOY_TOKEN"] ?? ""
    return token.isEmpty ? nil : token
}
