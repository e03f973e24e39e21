import ArgumentParser
import Foundation
import Logging
import PyRPCServer

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve --processes N`: the supervisor, and the workers it starts (`--worker`).
extension Serve {
    func runSupervisor(processes: Int, endpoint: (host: String, port: Int), options: ServerOptions, signals: TerminationSignals) async throws {
        var settings = SupervisorOptions(stateDirectory: options.stateDirectory!)
        settings.processes = processes
        settings.shutdownGrace = options.shutdownGrace
        settings.deployToken = options.deployToken
        settings.workerArguments = Self.workerArguments(CommandLine.arguments)
        let supervisor = try startSupervisor(name: name, endpoint: endpoint, settings: settings)
        do {
            try await supervisor.waitUntilReady(processes)
        } catch {
            await supervisor.stop()
            throw CLIExit.usage("server \(name): \(error)")
        }
        let rpcs = (try? StateStore(directory: settings.stateDirectory).loadManifest())??.services.reduce(0) { $0 + $1.rpcs.count } ?? 0
        print("\(name): serving \(rpcs) rpc\(rpcs == 1 ? "" : "s") from \(settings.stateDirectory) in \(processes) worker process\(processes == 1 ? "" : "es") (module state is per process); update them with `pyrpc deploy`")
        print("\(name) serving on \(formatEndpoint(endpoint.host, endpoint.port)); stop with Ctrl-C, replace the workers with SIGHUP.")
        flushStandardOutput()
        signals.onHangUp { supervisor.replaceWorkers() }
        let signalNumber = await signals.wait()
        LogFile.write("received signal \(signalNumber); finishing calls in flight...\n")
        await supervisor.stop()
        throw CLIExit(code: 0)
    }

    /// A worker, on the descriptors its supervisor passed (see `PyRPCServer.startWorker`).
    func runWorker(options: ServerOptions, signals: TerminationSignals) async throws {
        Scoreboard.attach()
        var options = options
        options.supervised = true
        options.siblingWorkers = siblingWorkers
        if probe { options.stateDirectory = nil }
        let server = try makeServer(name: name, options: options)
        server.writeCrashTracebacks(to: LogFile.descriptor)
        do {
            try await server.useStartEnvironment()
            if !probe { try await server.restoreState() }
        } catch {
            await server.stop()
            throw CLIExit.usage("server \(name): \(error)")
        }
        do {
            // The supervisor gone (its end of the control socket closed): stop like on SIGTERM.
            _ = try server.startWorker(accepting: !probe, onSupervisorGone: { kill(getpid(), SIGTERM) })
        } catch {
            await server.stop()
            throw CLIExit.network("server \(name): \(error)")
        }
        _ = await signals.wait()
        await server.stop()
        throw CLIExit(code: 0)
    }

    /// This command's arguments for a worker: the same, without `--processes`.
    static func workerArguments(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var skipNext = false
        for argument in arguments.dropFirst() {
            if skipNext {
                skipNext = false
            } else if argument == "--processes" {
                skipNext = true
            } else if !argument.hasPrefix("--processes=") {
                result.append(argument)
            }
        }
        return result
    }
}

/// A supervisor for server `name`, listening and starting its workers; listen errors are
/// network errors (exit 3) with a hint.
func startSupervisor(name: String, endpoint: (host: String, port: Int), settings: SupervisorOptions) throws -> Supervisor {
    let supervisor: Supervisor
    do {
        var logger = Logger(label: "pyrpc.supervisor")
        logger[metadataKey: "server"] = .string(name)
        supervisor = try Supervisor(name: name, host: endpoint.host, port: endpoint.port, options: settings, logger: logger)
    } catch let error as SocketError {
        let hint = "\(error)".contains("in use") ? " (is another pyrpc already running? stop it or change the port in init.yaml)" : ""
        throw CLIExit.network("server \(name) cannot listen on \(formatEndpoint(endpoint.host, endpoint.port)): \(error)\(hint)")
    } catch {
        throw CLIExit.usage("server \(name): \(error)")
    }
    supervisor.start()
    return supervisor
}
