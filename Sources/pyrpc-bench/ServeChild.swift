import ArgumentParser
import Foundation
import Logging
import PyRPCServer

/// `pyrpc-bench serve-child`: the pyrpc server under test, in its own process: the same
/// library code and the same default log level (info) as `pyrpc serve`.
struct ServeChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-child", abstract: "Run the server under test (used by the benchmark itself).", shouldDisplay: false)

    @Option var port: Int
    @Option var stateDir: String
    @Option var workers: Int = 8
    @Option(help: "Speak TLS with this certificate (PEM), as `pyrpc serve --tls-cert`.")
    var tlsCert: String?
    @Option(help: "The certificate's key (PEM).")
    var tlsKey: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        var options = ServerOptions()
        options.stateDirectory = stateDir
        options.pythonWorkers = workers
        if let tlsCert, let tlsKey { options.tls = TLSFiles(certificate: tlsCert, key: tlsKey) }
        let server = try PyRPCServer(name: "s1", options: options)
        // As `pyrpc serve` does, before listening: the TLS server of the bench starts on a copy
        // of the plaintext server's deployed state instead of being deployed to itself.
        try await server.restoreState()
        try await server.start(host: "127.0.0.1", port: port)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
