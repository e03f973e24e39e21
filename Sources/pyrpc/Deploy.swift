import ArgumentParser
import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCWire

/// `pyrpc deploy [init.yaml]`: the initializer.
struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring every running server of init.yaml to exactly the state the file describes.",
        discussion: """
            Sends each server its manifest (signatures and SHA-256 of each script); only the
            scripts a server lacks are sent. Servers keep running and swap atomically. Exit
            code 0 when every server deployed, 1 if one refused, 3 if one was unreachable.
            """)

    @Argument(help: "The network description.")
    var config: String = "init.yaml"

    @Flag(help: "Keep running and redeploy whenever init.yaml or a declared script changes.")
    var watch = false

    @Option(help: "A file holding the deploy token (default: $PYRPC_DEPLOY_TOKEN).")
    var deployTokenFile: String?

    @Flag(help: "Send the deploy token to servers on other hosts although the connection is not encrypted (anyone on the path can read it).")
    var insecurePlaintextToken = false

    @OptionGroup var tlsFlags: TLSClientFlags

    func run() async throws {
        let token = try readDeployToken(file: deployTokenFile)
        let network = try loadNetwork(config)!
        let code = await deployEverywhere(network, token: token, allowPlaintextToken: insecurePlaintextToken, tlsOverrides: tlsFlags.overrides)
        guard watch else {
            if code != 0 { throw CLIExit(code: code) }
            return
        }
        var seen = FileWatch.snapshot(config: config, network: network)
        print("watching \(config) and its scripts; Ctrl-C to stop")
        flushStandardOutput()
        while true {
            try await Task.sleep(for: .seconds(1))
            let network: NetworkConfig
            do {
                network = try ConfigLoader.load(path: config)
            } catch {
                let now = FileWatch.snapshot(config: config, network: nil)
                if now != seen { printError("\(error)"); seen = now }
                continue
            }
            let now = FileWatch.snapshot(config: config, network: network)
            guard now != seen else { continue }
            seen = now
            print("change detected; deploying")
            _ = await deployEverywhere(network, token: token, allowPlaintextToken: insecurePlaintextToken, tlsOverrides: tlsFlags.overrides)
        }
    }
}

/// Deploys to every server in parallel with a progress line each and a table at the end.
/// Returns the exit code: 0, 1 (a server refused) or 3 (a server was unreachable).
func deployEverywhere(_ network: NetworkConfig, token: String?, allowPlaintextToken: Bool = false, tlsOverrides: TLSSettings = TLSSettings()) async -> Int32 {
    // A venv on this machine is checked here, with its line in init.yaml; a remote
    // server checks its own.
    let problems = network.servers.filter { isLocal($0.host) }.flatMap { network.pythonProblems(server: $0.name) }
    if !problems.isEmpty {
        for problem in problems { printError("\(problem)") }
        return 2
    }
    for server in network.servers {
        print("\(server.name): deploying to \(formatEndpoint(server.host, server.port))...")
    }
    flushStandardOutput()
    let line = DeployProgressLine()
    let outcomes = await Deployer.deployAll(network, token: token, allowPlaintextToken: allowPlaintextToken, tlsOverrides: tlsOverrides, sending: { line.update($0) }, progress: { outcome in
        line.finished(outcome.server) {
            if let summary = outcome.summary {
                print("\(outcome.server): generation \(summary.generation) \(summary.changed ? "live" : "unchanged (already deployed)")")
                if summary.resumedBytes > 0 {
                    print("\(outcome.server): resumed: \(DeployProgressLine.megabytes(summary.resumedBytes)) the server kept from an interrupted deploy were not sent again")
                }
                let environment = network.server(named: outcome.server)?.python.environment ?? .none
                switch summary.python {
                case "applied": print("\(outcome.server): python \(environment) is on sys.path")
                case "at next start": print("\(outcome.server): python \(environment) takes effect when \(outcome.server) restarts (another environment is in effect)")
                default: break
                }
            } else if let failure = outcome.failure {
                print("\(outcome.server): FAILED: \(failure.message)")
            }
        }
    })
    print("")
    print("server      gen  added  replaced  removed  unchanged  script bytes  bytes sent  round trips")
    var code: Int32 = 0
    for outcome in outcomes {
        if let s = outcome.summary {
            let cells = [pad(s.server, 10), pad("\(s.generation)", 4), pad("\(s.added)", 6), pad("\(s.replaced)", 9),
                         pad("\(s.removed)", 8), pad("\(s.unchanged)", 10), pad("\(s.scriptBytesSent)", 13),
                         pad("\(s.bytesSent)", 11), "\(s.roundTrips)"]
            print(cells.joined(separator: " "))
        } else if let failure = outcome.failure {
            print("\(pad(outcome.server, 10)) failed: \(failure.message)")
            code = max(code, failure.isNetwork ? 3 : 1)
        }
    }
    flushStandardOutput()
    return code
}

/// Whether `host` is this machine (loopback), where init.yaml's folders are the server's.
private func isLocal(_ host: String) -> Bool {
    host == "localhost" || host.hasPrefix("127.") || host == "::1"
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// Modification times of init.yaml and every script it declares.
enum FileWatch {
    static func snapshot(config: String, network: NetworkConfig?) -> [String: Date] {
        var paths = [config]
        if let network { paths += network.services.flatMap { $0.rpcs.map(\.source) } }
        var times: [String: Date] = [:]
        for path in paths {
            times[path] = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date ?? .distantPast
        }
        return times
    }
}
