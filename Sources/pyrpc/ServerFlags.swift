import ArgumentParser
import Foundation
import Logging
import PyRPCConfig
import PyRPCServer
import PyRPCTLS
import PyRPCWire

/// Server limits and logging (SPEC §8): each flag's spelling and help. What it means and its
/// default are `ServerOptions`' (the defaults below are read from there); a worker process
/// gets the options themselves from its supervisor (`WorkerSettings`), not these flags again.
struct ServerFlags: ParsableArguments {
    private static let defaults = ServerOptions()

    @Option(help: "Largest accepted message in bytes (scripts larger than a message still deploy, in pieces).")
    var maxMessageBytes: Int = defaults.maxMessageBytes
    @Option(help: "Script bytes one deploy may name or send; a bigger deploy is Deploy Rejected.")
    var maxDeployBytes: Int = defaults.maxDeployBytes
    @Option(help: "Seconds before an idle connection is closed.")
    var idleTimeout: Double = defaults.idleTimeout
    @Option(help: "Longest a call may run, in seconds (per-rpc `timeout:` and per-request `timeout` can only shorten it).")
    var callTimeout: Double = defaults.callTimeout
    @Option(help: "Calls that may wait for a Python worker; beyond this callers get Server Busy.")
    var maxPending: Int = defaults.maxPendingCalls
    @Option(help: "Python worker threads per server (blocking calls overlap at least this many).")
    var workers: Int = defaults.pythonWorkers
    @Option(help: "Seconds calls in flight may take to finish on SIGINT/SIGTERM.")
    var shutdownGrace: Double = defaults.shutdownGrace
    @Flag(help: "Include Python tracebacks in Execution Exception messages.")
    var debug = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"
    @Option(help: "A file holding the deploy token deploys must carry (default: $PYRPC_DEPLOY_TOKEN; none: loopback and network nodes only).")
    var deployTokenFile: String?
    @Option(help: "Open connections the server keeps; more are closed at once.")
    var maxConnections: Int = defaults.maxConnections
    @Option(name: .customLong("max-connections-per-ip"), help: "Open connections from one IP address; more are closed at once. 0 (the default): no limit, since behind a proxy or NAT every client shares one address.")
    var maxConnectionsPerIP: Int = defaults.maxConnectionsPerAddress
    @Option(help: "Bytes of unframed input and unwritten answers, all connections together; past it the biggest holders get Bad Request and are closed.")
    var maxBufferedBytes: Int = defaults.maxBufferedBytes
    @Option(help: "Seconds a message that started arriving may take to arrive whole (slowloris); idle connections fall under --idle-timeout.")
    var messageTimeout: Double = defaults.messageTimeout
    @Option(help: "The server's certificate chain (PEM): with --tls-key, the server speaks TLS only (1.2 and 1.3).")
    var tlsCert: String?
    @Option(help: "The server certificate's private key (PEM).")
    var tlsKey: String?
    @Option(help: "A CA certificate (PEM): every client must present a certificate it signed (mutual TLS).")
    var tlsClientCa: String?
    @Option(help: "A virtual environment the scripts import from (its site-packages go on sys.path); overrides init.yaml's `python: {venv:}`.")
    var venv: String?
    @Option(help: ArgumentHelp(
        "With --processes: serve the operations port (HTTP: /livez, /readyz) on HOST:PORT, from the supervisor (default: init.yaml's `metrics:` for the server).",
        valueName: "host:port"))
    var metricsListen: String?
    @Option(help: "With --processes: on SIGTERM, seconds to keep serving while /readyz answers 503, so load balancers move traffic away first.")
    var drainSeconds: Double = 0
    @Option(help: "With --processes: seconds a call may stay stuck past its deadline (answered Timeout, still running) before its worker is replaced.")
    var harakiriGrace: Double = defaults.harakiriGrace
    @Option(help: "With --processes: replace a worker gracefully after about this many calls (up to 10% more, so workers do not recycle together).")
    var maxRequests: Int?
    @Option(name: .customLong("max-rss"), help: "With --processes: replace a worker gracefully once its resident memory passes this many MiB.")
    var maxRSS: Int?

    var options: ServerOptions {
        var options = ServerOptions()
        options.maxMessageBytes = maxMessageBytes
        options.maxDeployBytes = maxDeployBytes
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
        options.venv = venv.map(absolutePath)
        if let tlsCert, let tlsKey {
            options.tls = TLSFiles(certificate: absolutePath(tlsCert), key: absolutePath(tlsKey), clientCA: tlsClientCa.map(absolutePath))
        }
        options.harakiriGrace = harakiriGrace
        options.maxRequests = maxRequests
        options.maxResidentMegabytes = maxRSS
        return options
    }

    func validate() throws {
        guard maxMessageBytes > 0, maxDeployBytes > 0, idleTimeout > 0, callTimeout > 0, maxPending > 0, workers > 0, shutdownGrace >= 0,
              maxConnections > 0, maxConnectionsPerIP >= 0, maxBufferedBytes > 0, messageTimeout > 0, harakiriGrace >= 0,
              (maxRequests ?? 1) > 0, (maxRSS ?? 1) > 0, drainSeconds >= 0 else {
            throw ValidationError("limits must be positive numbers")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: the certificate and its private key")
        }
        guard tlsClientCa == nil || tlsCert != nil else {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for in a TLS handshake")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'; use trace, debug, info, notice, warning, error or critical")
        }
    }

    /// The options of server `node` of `network`: these flags, with TLS from init.yaml (the
    /// server's `tls: {cert, key}`, the top-level `ca` for client certificates) unless
    /// `--tls-cert` says otherwise. The top-level certificate is the operator's: whoever
    /// presents one with its name may deploy and see everything.
    func options(for node: ServerNode?, in network: NetworkConfig?) throws -> ServerOptions {
        var options = self.options
        if options.tls == nil, let declared = node?.tls, let certificate = declared.cert, let key = declared.key {
            options.tls = TLSFiles(certificate: certificate, key: key, clientCA: tlsClientCa.map(absolutePath) ?? network?.tls?.ca)
        }
        if let operatorCertificate = network?.tls?.cert, options.tls != nil {
            do {
                options.tls?.operators = try CertificateNames.ofFile(operatorCertificate)
            } catch {
                throw CLIExit.usage("\(network?.file ?? "init.yaml"): the operator's certificate (tls: {cert}): \(error)")
            }
        }
        return options
    }

    /// Where server `node`'s operations port listens: `--metrics-listen`, else init.yaml's
    /// `metrics:`; nil: none.
    func operationsAddress(for node: ServerNode?) throws -> (host: String, port: Int)? {
        if let metricsListen { return try parseEndpoint(metricsListen) }
        return node?.metrics.map { ($0.host, $0.port) }
    }

    /// Logs to standard error at `--log-level` (a worker: at its supervisor's, `level`).
    func bootstrapLogging(level name: String? = nil) {
        let level = Logger.Level(rawValue: name ?? logLevel) ?? .info
        _ = LogFile.descriptor  // copied before any script can close standard error
        LoggingSystem.bootstrap { label in LogFileHandler(label: label, level: level) }
    }
}

/// What server `name` starts with: init.yaml's `python:` for it (when a file was read),
/// `venv` (`--venv`) over its venv. Folders missing on this machine are configuration errors.
func startEnvironment(_ network: NetworkConfig?, server name: String, venv: String?) throws -> PythonEnvironment? {
    if let network {
        let problems = network.pythonProblems(server: name)
        if !problems.isEmpty { throw CLIExit.usage(problems.map(\.description).joined(separator: "\n")) }
    }
    var environment = network?.server(named: name)?.python.environment
    if let venv {
        environment = environment ?? PythonEnvironment()
        environment?.venv = venv
    }
    return environment
}

/// `path` from the current folder: what a worker, started later, still finds.
func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
