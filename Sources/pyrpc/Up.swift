import ArgumentParser
import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCServer
import PyRPCWire

/// `pyrpc up [init.yaml]`: the quick start.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start every server of init.yaml in this process, load its RPCs, and serve until Ctrl-C.")

    @Argument(help: "The network description.")
    var config: String = "init.yaml"

    @Option(help: "Folder for the servers' deployed state, one subfolder per server (default: ~/.local/state/pyrpc).")
    var stateDir: String?

    @OptionGroup var flags: ServerFlags

    func run() async throws {
        flags.bootstrapLogging()
        let network = try loadNetwork(config)!
        if network.servers.isEmpty { throw CLIExit.usage("\(config) declares no servers") }

        var servers: [PyRPCServer] = []
        var environments: Set<String> = []
        do {
            for node in network.servers {
                var options = flags.options
                options.stateDirectory = stateDir.map { "\($0)/\(node.name)" } ?? StateStore.defaultDirectory(server: node.name)
                options.python = try flags.startEnvironment(network, server: node.name)
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
        // The same path as `pyrpc deploy`: manifests over TCP, only missing scripts sent.
        let code = await deployEverywhere(network, token: try flags.deployToken())
        if code != 0 {
            for server in servers { await server.stop() }
            throw CLIExit(code: code == 3 ? 3 : 2, message: "deploying \(config) failed; fix the error above and run `pyrpc up` again")
        }
        if environments.count > 1 {
            printError("note: the servers of `pyrpc up` share one interpreter, so every server's scripts see all of: \(environments.sorted().joined(separator: "; "))")
        }
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
        print("Stop with Ctrl-C.")
        flushStandardOutput()

        let signalNumber = await waitForTerminationSignal()
        LogFile.write("received signal \(signalNumber); finishing calls in flight...\n")
        for server in servers { await server.stop() }
        throw CLIExit(code: 0)
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

