import ArgumentParser
import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCWire

/// Asks servers of init.yaml (or one at --to) for a pyrpc admin message.
struct AdminQuery: ParsableArguments {
    @Argument(help: "A server of init.yaml (default: every server).")
    var server: String?

    @Option(help: "Ask the server at HOST:PORT.")
    var to: String?

    @OptionGroup var configOption: ConfigOption

    /// (name, answer or error) per server.
    func ask(_ header: String) async throws -> [(name: String, answer: Result<Envelope, RPCClientError>)] {
        var targets: [(name: String, host: String, port: Int)] = []
        if let to {
            let endpoint = try parseEndpoint(to)
            targets = [(to, endpoint.host, endpoint.port)]
        } else {
            let network = try configOption.load()!
            if let server {
                guard let node = network.server(named: server) else {
                    throw CLIExit.usage("\(network.file) declares no server '\(server)'; it declares \(network.servers.map(\.name).joined(separator: ", "))")
                }
                targets = [(node.name, node.host, node.port)]
            } else {
                targets = network.servers.map { ($0.name, $0.host, $0.port) }
            }
        }
        var answers: [(String, Result<Envelope, RPCClientError>)] = []
        for target in targets {
            let client = RPCClient(host: target.host, port: target.port)
            defer { client.close() }
            // The awaited answer goes into a local before it is wrapped: see `Deployer.outcome`.
            let answer: Envelope
            do {
                answer = try await client.send(Envelope(header: header, value: [:]).encoded())
            } catch {
                answers.append((target.name, .failure(error)))
                continue
            }
            answers.append((target.name, .success(answer)))
        }
        return answers
    }
}

/// `pyrpc ls [SERVER]`.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the RPCs each server has deployed, with signatures and short script hashes.")

    @OptionGroup var query: AdminQuery

    func run() async throws {
        var unreachable = 0
        for (name, answer) in try await query.ask(Header.listRequest) {
            switch answer {
            case .failure(let error):
                print("\(name): unreachable (\(error))")
                unreachable += 1
            case .success(let envelope):
                let generation = envelope.value["generation"].map { $0.jsonText } ?? "?"
                let rpcs = envelope.value["rpcs"]?.arrayValue ?? []
                print("\(name) (generation \(generation), \(rpcs.count) rpc\(rpcs.count == 1 ? "" : "s"))")
                for rpc in rpcs {
                    let args = (rpc["args"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
                    let returns = (rpc["returns"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
                    let hash = String((rpc["hash"]?.stringValue ?? "").prefix(12))
                    let label = "\(rpc["service"]?.stringValue ?? "?").\(rpc["rpc"]?.stringValue ?? "?")"
                    print("  \(label.padding(toLength: max(label.count, 18), withPad: " ", startingAt: 0))  (\(args)) -> (\(returns))  \(hash)")
                }
            }
        }
        if unreachable > 0 { throw CLIExit(code: 3) }
    }
}

/// `pyrpc stats [SERVER]`.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show per-RPC calls, errors, timeouts, p50/p99 latency, script hashes and uptime.")

    @OptionGroup var query: AdminQuery

    func run() async throws {
        var unreachable = 0
        for (name, answer) in try await query.ask(Header.statsRequest) {
            switch answer {
            case .failure(let error):
                print("\(name): unreachable (\(error))")
                unreachable += 1
            case .success(let envelope):
                let uptime = envelope.value["uptime"]?.numberValue ?? 0
                let generation = envelope.value["generation"].map { $0.jsonText } ?? "?"
                print("\(name): up \(Int(uptime)) s, generation \(generation)")
                print("  rpc                 signature                       calls  errors  timeouts  p50 ms   p99 ms   hash")
                for rpc in envelope.value["rpcs"]?.arrayValue ?? [] {
                    let label = "\(rpc["service"]?.stringValue ?? "?").\(rpc["rpc"]?.stringValue ?? "?")"
                    let columns = [
                        pad(label, 19), pad(rpc["signature"]?.stringValue ?? "", 31),
                        pad(rpc["calls"]?.jsonText ?? "0", 6), pad(rpc["errors"]?.jsonText ?? "0", 7),
                        pad(rpc["timeouts"]?.jsonText ?? "0", 9),
                        pad(rpc["p50_ms"]?.numberValue.map { String(format: "%.3f", $0) } ?? "-", 8),
                        pad(rpc["p99_ms"]?.numberValue.map { String(format: "%.3f", $0) } ?? "-", 8),
                        String((rpc["hash"]?.stringValue ?? "").prefix(12)),
                    ]
                    print("  " + columns.joined(separator: " "))
                }
                printProcesses(envelope)
            }
        }
        if unreachable > 0 { throw CLIExit(code: 3) }
    }

    /// A server with worker processes (`serve --processes`): one line per worker, restarts,
    /// and why the latest workers left.
    private func printProcesses(_ envelope: Envelope) {
        guard let processes = envelope.value["processes"]?.arrayValue else { return }
        let restarts = envelope.value["restarts"]?.jsonText ?? "0"
        let loop = envelope.value["crash_loop"] == .bool(true) ? " — CRASH LOOP: workers die as they start" : ""
        print("  \(processes.count) worker process\(processes.count == 1 ? "" : "es"), \(restarts) restart\(restarts == "1" ? "" : "s")\(loop)")
        for worker in processes {
            var columns = [
                "worker " + pad(worker["worker"]?.jsonText ?? "?", 3),
                "pid " + pad(worker["pid"]?.jsonText ?? "?", 8),
                "up " + pad("\(Int(worker["uptime"]?.numberValue ?? 0)) s", 8),
                "calls " + pad(worker["calls"]?.jsonText ?? "0", 9),
                "rss " + pad(worker["rss_mb"]?.numberValue.map { String(format: "%.1f MiB", $0) } ?? "-", 11),
                "generation " + pad(worker["generation"]?.jsonText ?? "?", 4),
                "restarts " + (worker["restarts"]?.jsonText ?? "0"),
            ]
            if let last = worker["last_exit"]?.stringValue { columns.append("(last: \(last))") }
            if let leaving = worker["leaving"]?.stringValue { columns.append("— leaving: \(leaving)") }
            print("    " + columns.joined(separator: " "))
        }
        for exit in envelope.value["exits"]?.arrayValue ?? [] {
            print("    left: \(exit.stringValue ?? "")")
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
