import ArgumentParser
import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCServer
import PyRPCWire

/// `pyrpc up [init.yaml]`: the quick start.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start every server of init.yaml on this machine, each in worker processes of its own, load its RPCs, and serve until Ctrl-C.")

    @Argument(help: "The network description.")
    var config: String = "init.yaml"

    @Option(help: "Folder for the servers' deployed state, one subfolder per server (default: ~/.local/state/pyrpc).")
    var stateDir: String?

    @Option(help: "Worker processes per server, each with its own interpreter, replaced if it dies: a number, 'auto' for the cores this process may use, or 0 to run every server in this one process. Module state is per process.")
    var processes: String = "1"

    @OptionGroup var flags: ServerFlags

    func validate() throws {
        if processes != "auto", (Int(processes) ?? -1) < 0 {
            throw ValidationError("--processes takes a number of worker processes, 'auto', or 0 for none (every server in this process)")
        }
    }

    func stateDirectory(_ server: String) -> String {
        stateDir.map { "\($0)/\(server)" } ?? StateStore.defaultDirectory(server: server)
    }

    func run() async throws {
        flags.bootstrapLogging()
        let signals = TerminationSignals(hangUps: true)
        let network = try loadNetwork(config)!
        if network.servers.isEmpty { throw CLIExit.usage("\(config) declares no servers") }
        let count = processes == "auto" ? EventLoops.usableCores : Int(processes)!
        if flags.metricsListen != nil, network.servers.count > 1 {
            throw CLIExit.usage("--metrics-listen names one address, and \(config) declares \(network.servers.count) servers: give each its own `metrics:` in \(config)")
        }
        if count == 0 {
            if flags.metricsListen != nil || flags.drainSeconds > 0 {
                throw CLIExit.usage("--metrics-listen and --drain-seconds need supervisors (--processes 1 or more): the operations port must answer while Python is busy")
            }
            if network.servers.contains(where: { $0.metrics != nil }) {
                printError("warning: with --processes 0 the operations ports of \(config) (`metrics:`) are not served: they need a supervisor")
            }
            return try await runInThisProcess(network, signals: signals)
        }

        // Each server: a supervisor of its own (no Python here) and its worker processes.
        var supervisors: [Supervisor] = []
        do {
            for node in network.servers {
                var options = try flags.options(for: node, in: network)
                options.stateDirectory = absolutePath(stateDirectory(node.name))
                options.python = try startEnvironment(network, server: node.name, venv: options.venv)  // folder errors now, at their line
                let settings = supervisorOptions(
                    processes: count, options: options, logLevel: flags.logLevel,
                    workerArguments: ["serve", node.name, "--config", absolutePath(config), "--state-dir", options.stateDirectory!],
                    operations: try flags.operationsAddress(for: node), drainSeconds: flags.drainSeconds)
                supervisors.append(try await startSupervisor(name: node.name, endpoint: (node.host, node.port), settings: settings))
            }
            for supervisor in supervisors {
                do {
                    try await supervisor.waitUntilReady(count)
                } catch {
                    throw CLIExit.usage("server \(supervisor.name): \(error)")
                }
            }
        } catch {
            for supervisor in supervisors { await supervisor.stop() }
            throw error
        }
        let started = supervisors
        signals.onHangUp { for supervisor in started { supervisor.replaceWorkers() } }
        try await deployAndServe(
            network, supervisors, signals: signals,
            note: "each server runs in \(count) worker process\(count == 1 ? "" : "es") of its own (module state is per process); a crash restarts only that worker")
    }

    /// `--processes 0`: every server in this process, sharing one interpreter.
    private func runInThisProcess(_ network: NetworkConfig, signals: TerminationSignals) async throws {
        var servers: [PyRPCServer] = []
        var environments: Set<String> = []
        do {
            for node in network.servers {
                var options = try flags.options(for: node, in: network)
                options.stateDirectory = stateDirectory(node.name)
                options.python = try startEnvironment(network, server: node.name, venv: options.venv)
                if let environment = options.python, !environment.isEmpty { environments.insert(environment.description) }
                let server = try makeServer(name: node.name, options: options)
                servers.append(server)
                do {
                    // One interpreter serves every server of this process: their environments add up.
                    try await server.useStartEnvironment(adding: true)
                } catch {
                    throw CLIExit.usage("server \(node.name): \(error)")
                }
                try await startListening(server, host: node.host, port: node.port)
            }
        } catch {
            for server in servers { await server.stop() }
            throw error
        }
        let shared = environments.count > 1
            ? "with --processes 0 the servers of `pyrpc up` share one interpreter, so every server's scripts see all of: \(environments.sorted().joined(separator: "; "))"
            : nil
        try await deployAndServe(network, servers, signals: signals, note: "every server runs in this one process (--processes 0)", deployedNote: shared)
    }

    /// Deploys the file to the started servers (the same path as `pyrpc deploy`: manifests
    /// over TCP, only missing scripts sent), prints the banner, and serves until SIGINT or
    /// SIGTERM. `deployedNote` goes to stderr once the deploy succeeded.
    private func deployAndServe(
        _ network: NetworkConfig, _ running: [any StoppableServer], signals: TerminationSignals, note: String, deployedNote: String? = nil
    ) async throws {
        let code = await deployEverywhere(network, token: try flags.deployToken())
        if code != 0 {
            for server in running { await server.stop() }
            throw CLIExit(code: code == 3 ? 3 : 2, message: "deploying \(config) failed; fix the error above and run `pyrpc up` again")
        }
        if let deployedNote { printError("note: \(deployedNote)") }
        printBanner(network, note: note)
        let signalNumber = await signals.wait()
        LogFile.write("received signal \(signalNumber); \(flags.drainSeconds > 0 ? "draining, then " : "")finishing calls in flight...\n")
        await withTaskGroup(of: Void.self) { group in
            for server in running { group.addTask { await server.drain { _ = await signals.next() } } }
        }
        for server in running { await server.stop() }
        throw CLIExit(code: 0)
    }

    private func printBanner(_ network: NetworkConfig, note: String) {
        print("")
        print("pyrpc is serving \(config):")
        for node in network.servers {
            let services = network.services(providedBy: node.name).map(\.name)
            print("  \(node.name)  \(formatEndpoint(node.host, node.port))  \(services.isEmpty ? "(no services)" : services.joined(separator: ", "))")
        }
        if var sample = Self.sampleCall(network) {
            if config != "init.yaml" { sample += " --config \(config)" }
            print("")
            print("Try:  \(sample)")
        }
        print("Stop with Ctrl-C. (\(note).)")
        flushStandardOutput()
    }

    /// A `pyrpc call` line that works against this network, with arguments of the right types.
    static func sampleCall(_ network: NetworkConfig) -> String? {
        for service in network.services {
            for rpc in service.rpcs {
                let arguments = rpc.signature.arguments.map(sampleArgument)
                guard !arguments.contains(nil) else { continue }
                var line = "pyrpc call \(service.name) \(rpc.name)"
                for argument in arguments { line += " \(argument!)" }
                if let tenant = service.tenants.first { line += " --as \(tenant)" }
                if rpc.name.isEmpty { continue }
                return line
            }
        }
        return nil
    }

    private static func sampleArgument(_ type: RPCType) -> String? {
        switch type {
        case .int: return "2"
        case .float: return "1.5"
        case .str: return "hello"
        case .bool: return "true"
        case .list(.int): return "'[1, 2, 3]'"
        case .list(.float): return "'[1.5, 2.5]'"
        case .list(.str): return "'[\"a\", \"b\"]'"
        case .list: return nil
        }
    }
}


/// What `pyrpc up` stops at the end: a supervisor per server, or with `--processes 0` the
/// servers themselves.
protocol StoppableServer: Sendable {
    /// SIGTERM: `/readyz` says so, and serving goes on for `--drain-seconds` (supervisors).
    func drain(interrupted: @escaping @Sendable () async -> Void) async
    func stop() async
}

extension Supervisor: StoppableServer {}
extension PyRPCServer: StoppableServer {
    func drain(interrupted: @escaping @Sendable () async -> Void) async {}
}
