import ArgumentParser
import Foundation
import PyRPCConfig
import PyRPCServer
import PyRPCWire

/// `pyrpc serve NAME`: one server of the network.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one server of init.yaml, serving its last deployed RPCs (see `pyrpc deploy`).")

    @Argument(help: "The server's name in init.yaml (e.g. s1).")
    var name: String

    @OptionGroup var configOption: ConfigOption

    @Option(help: "Listen on HOST:PORT instead of the address init.yaml declares (e.g. 0.0.0.0:8181, [::1]:8181).")
    var listen: String?

    @Option(help: "Where the deployed state is kept (default: ~/.local/state/pyrpc/NAME).")
    var stateDir: String?

    @Option(help: "Worker processes, each with its own interpreter, under a supervisor that replaces any that dies: a number, 'auto' for the cores this process may use, or 0 to serve in this one process without a supervisor. Module state is per process.")
    var processes: String = "1"

    @Flag(help: .hidden)
    var worker = false

    /// With --worker: only load the scripts a deploy sends (see `Supervisor.probe`).
    @Flag(help: .hidden)
    var probe = false

    /// With --worker: how many other workers accept on the same listener.
    @Option(help: .hidden)
    var siblingWorkers: Int = 0

    @OptionGroup var flags: ServerFlags

    func validate() throws {
        if processes != "auto", (Int(processes) ?? -1) < 0 {
            throw ValidationError("--processes takes a number of worker processes, 'auto', or 0 for none (serve in this process)")
        }
    }

    /// `--processes`: nil when this process serves alone (0: no supervisor, no workers).
    var processCount: Int? {
        let count = processes == "auto" ? EventLoops.usableCores : Int(processes)!
        return count == 0 ? nil : count
    }

    func run() async throws {
        // A worker takes its options from its supervisor, not from its flags.
        let settings = worker ? try WorkerSettings.take() : nil
        flags.bootstrapLogging(level: settings?.logLevel)
        let signals = TerminationSignals(hangUps: processCount != nil && !worker)
        let network = try configOption.load(required: listen == nil)
        let node = network?.server(named: name)
        if let network, node == nil {
            let known = network.servers.map(\.name).joined(separator: ", ")
            throw CLIExit.usage("\(network.file) declares no server '\(name)'; it declares \(known)")
        }
        let endpoint: (host: String, port: Int) = try listen.map(parseEndpoint) ?? (node!.host, node!.port)
        var options = try settings?.options ?? flags.options(for: node, in: network)
        if worker, let material = try WorkerTLS.take() { options.tls?.material = material }
        options.stateDirectory = stateDir ?? StateStore.defaultDirectory(server: name)
        // Read again at each worker's start: SIGHUP's workers use init.yaml's `python:` as it is now.
        options.python = try startEnvironment(network, server: name, venv: options.venv)
        if worker { return try await runWorker(options: options, signals: signals) }
        let operations = try flags.operationsAddress(for: node)
        if let processCount {
            return try await runSupervisor(processes: processCount, endpoint: endpoint, operations: operations, options: options, signals: signals)
        }
        if operations != nil || flags.drainSeconds > 0 {
            throw CLIExit.usage("--metrics-listen, init.yaml's `metrics:` and --drain-seconds need a supervisor (--processes 1 or more): the operations port must answer while Python is busy")
        }
        let server = try makeServer(name: name, options: options)
        do {
            try await server.useStartEnvironment()
        } catch {
            await server.stop()
            throw CLIExit.usage("server \(name): \(error)")
        }
        // Restored before listening: a client that connects as soon as the port opens (a
        // restart after a crash) must never see the server without its RPCs.
        let restored: Int
        do {
            restored = try await server.restoreState()
        } catch {
            await server.stop()
            throw CLIExit.usage("server \(name) cannot restore its state: \(error)")
        }
        try await startListening(server, host: endpoint.host, port: endpoint.port)
        print("\(name): serving \(restored) rpc\(restored == 1 ? "" : "s") from \(options.stateDirectory!); update them with `pyrpc deploy`")
        print("\(name) serving on \(formatEndpoint(endpoint.host, endpoint.port)); stop with Ctrl-C.")
        flushStandardOutput()
        let signalNumber = await signals.wait()
        LogFile.write("received signal \(signalNumber); finishing calls in flight...\n")
        await server.stop()
        throw CLIExit(code: 0)
    }
}
