import ArgumentParser
import Foundation
import Logging
import PyRPCServer

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve --processes N`: the supervisor, and the workers it starts (`--worker`).
extension Serve {
    func runSupervisor(
        processes: Int, endpoint: (host: String, port: Int), operations: (host: String, port: Int)?, options: ServerOptions, signals: TerminationSignals
    ) async throws {
        // Before any worker starts: they must not inherit NOTIFY_SOCKET (NotifyAccess=main).
        let systemd = SystemdNotifier.fromEnvironment()
        let settings = supervisorOptions(
            processes: processes, options: options, logLevel: flags.logLevel, workerArguments: Self.workerArguments(CommandLine.arguments),
            operations: operations, drainSeconds: flags.drainSeconds)
        let supervisor = try await startSupervisor(name: name, endpoint: endpoint, settings: settings)
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
        systemd?.ready(status: "serving \(rpcs) rpc\(rpcs == 1 ? "" : "s") on \(formatEndpoint(endpoint.host, endpoint.port)) with \(processes) worker process\(processes == 1 ? "" : "es")")
        systemd?.startWatchdog { supervisor.isResponsive }
        signals.onHangUp {
            systemd?.reloading()
            supervisor.replaceWorkers { systemd?.ready() }
        }
        let signalNumber = await signals.wait()
        systemd?.stopping()
        LogFile.write("received signal \(signalNumber); \(flags.drainSeconds > 0 ? "draining, then " : "")finishing calls in flight...\n")
        await supervisor.drain { _ = await signals.next() }
        await supervisor.stop()
        throw CLIExit(code: 0)
    }

    /// A worker, on the descriptors its supervisor passed (see `PyRPCServer.startWorker`).
    func runWorker(options: ServerOptions, signals: TerminationSignals) async throws {
        Scoreboard.attach()
        StatsBoard.attach()
        // A trial process (`probe`) reads the deploy's scripts from the state directory too,
        // where the supervisor wrote them, and restores nothing.
        let server = try makeServer(name: name, options: options, role: .worker(siblings: siblingWorkers))
        server.writeCrashTracebacks(to: LogFile.descriptor)
        do {
            try await server.useStartEnvironment()
            if !probe { try await server.restoreState() }
        } catch {
            await server.stop()
            throw CLIExit.usage("server \(name): \(error)")
        }
        do {
            // Asked to leave (recycled, replaced), or the supervisor gone (its end of the control
            // socket closed): stop like on SIGTERM; leaving, the connections are handed over.
            _ = try server.startWorker(accepting: !probe, onRetire: { _ in kill(getpid(), SIGTERM) }, onSupervisorGone: { kill(getpid(), SIGTERM) })
        } catch {
            await server.stop()
            throw CLIExit.network("server \(name): \(error)")
        }
        _ = await signals.wait()
        await server.stop(handingOver: server.isRetiring)
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
