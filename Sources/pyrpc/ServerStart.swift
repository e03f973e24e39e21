import Foundation
import Logging
import PyRPCServer

func makeServer(name: String, options: ServerOptions, role: ServerRole = .alone) throws -> PyRPCServer {
    do {
        return try PyRPCServer(name: name, options: options, role: role)
    } catch {
        throw CLIExit.usage("\(error)")
    }
}

func startListening(_ server: PyRPCServer, host: String, port: Int) async throws {
    do {
        _ = try await waitingForThePort(of: server.name, host, port) { try await server.start(host: host, port: port) }
    } catch {
        throw cannotListen(server.name, host, port, error)
    }
}

/// Makes printed lines visible at once when stdout is a pipe (tests, `| tee`).
func flushStandardOutput() {
    fflush(nil)
}

/// How `serve` and `up` run a server under a supervisor: `processes` workers, started with
/// `workerArguments`, that get `options` and the log level from it (`WorkerSettings`).
func supervisorOptions(
    processes: Int, options: ServerOptions, logLevel: String, workerArguments: [String],
    operations: (host: String, port: Int)? = nil, drainSeconds: Double = 0
) -> SupervisorOptions {
    var options = options
    // One set of session-ticket keys for all the workers, so that a client's next connection
    // resumes its TLS session whichever worker takes it. They live as long as the supervisor.
    if options.tls != nil, options.tls?.ticketKeys == nil {
        var generator = SystemRandomNumberGenerator()
        options.tls?.ticketKeys = (0..<80).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
    var settings = SupervisorOptions(server: options)
    settings.processes = processes
    settings.workerArguments = workerArguments
    settings.workerEnvironment = WorkerSettings(options: options, logLevel: logLevel).environment
    settings.operations = operations
    settings.drainSeconds = drainSeconds
    return settings
}

/// A supervisor for server `name`, listening and starting its workers; listen errors are
/// network errors (exit 3) with a hint.
func startSupervisor(name: String, endpoint: (host: String, port: Int), settings: SupervisorOptions) async throws -> Supervisor {
    let supervisor: Supervisor
    do {
        var logger = Logger(label: "pyrpc.supervisor")
        logger[metadataKey: "server"] = .string(name)
        supervisor = try await waitingForThePort(of: name, endpoint.host, endpoint.port) {
            try Supervisor(name: name, host: endpoint.host, port: endpoint.port, options: settings, logger: logger)
        }
    } catch let error as SocketError {
        throw cannotListen(name, endpoint.host, endpoint.port, error)
    } catch {
        throw CLIExit.usage("server \(name): \(error)")
    }
    supervisor.start()
    return supervisor
}

/// Runs `listen`, waiting while another socket holds the port, up to 10 s (said once in the
/// log): a server just killed may hold it a moment longer (its orphaned workers let go of it
/// as soon as they see their supervisor gone), and a service manager's immediate restart must
/// win. A poll, every 100 ms: nothing announces that a port came free.
func waitingForThePort<T>(of name: String, _ host: String, _ port: Int, _ listen: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(10)
    var said = false
    while true {
        do {
            return try await listen()
        } catch let error as SocketError where error.isAddressInUse && ContinuousClock.now < deadline {
            if !said {
                LogFile.write("server \(name): \(formatEndpoint(host, port)) is in use; waiting up to 10 s for it to come free (a previous server still stopping?)\n")
                said = true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// A listen that failed: a network error (exit 3), with a hint when the port is held.
func cannotListen(_ name: String, _ host: String, _ port: Int, _ error: any Error) -> CLIExit {
    let hint = (error as? SocketError)?.isAddressInUse == true ? " (is another pyrpc already running? stop it or change the port in init.yaml)" : ""
    return CLIExit.network("server \(name) cannot listen on \(formatEndpoint(host, port)): \(error)\(hint)")
}
