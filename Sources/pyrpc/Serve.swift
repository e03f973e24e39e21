import ArgumentParser
import Foundation
import PyRPCConfig
import PyRPCServer

/// `pyrpc serve NAME`: one server of the network.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one server of init.yaml, serving the RPCs the file gives it.")

    @Argument(help: "The server's name in init.yaml (e.g. s1).")
    var name: String

    @OptionGroup var configOption: ConfigOption

    @Option(help: "Listen on HOST:PORT instead of the address init.yaml declares (e.g. 0.0.0.0:8181, [::1]:8181).")
    var listen: String?

    @OptionGroup var flags: ServerFlags

    func run() async throws {
        flags.bootstrapLogging()
        let network = try configOption.load(required: listen == nil)
        let node = network?.server(named: name)
        if let network, node == nil {
            let known = network.servers.map(\.name).joined(separator: ", ")
            throw CLIExit.usage("\(network.file) declares no server '\(name)'; it declares \(known)")
        }
        let endpoint: (host: String, port: Int) = try listen.map(parseEndpoint) ?? (node!.host, node!.port)
        let server = try await startServer(name: name, host: endpoint.host, port: endpoint.port, options: flags.options)
        if let network {
            let report = try await deployLocally(network, to: server)
            print("\(name): loaded \(report.added) rpc\(report.added == 1 ? "" : "s") from \(network.file)")
        }
        print("\(name) serving on \(formatEndpoint(endpoint.host, endpoint.port)); stop with Ctrl-C.")
        flushStandardOutput()
        let signalNumber = await waitForTerminationSignal()
        printError("received signal \(signalNumber); finishing calls in flight...")
        await server.stop()
        throw CLIExit(code: 0)
    }
}
