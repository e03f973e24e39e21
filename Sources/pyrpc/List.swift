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

    /// Each server's answer read as `Reply` (LS-RES, STATS-RES); a server that is unreachable,
    /// answers with an exception (a server whose workers crash as they start says why) or
    /// sends something unreadable is printed as such and counted in `failures`.
    func replies<Reply>(_ header: String, _ read: (Envelope) throws(RPCError) -> Reply) async throws -> (replies: [(name: String, reply: Reply)], failures: Int) {
        var replies: [(String, Reply)] = []
        var failures = 0
        for (name, answer) in try await ask(header) {
            switch answer {
            case .failure(let error):
                print("\(name): unreachable (\(error))")
                failures += 1
            case .success(let envelope):
                do throws(RPCError) {
                    if envelope.header == Header.rpcException { _ = try RPCReply.decode(envelope) }
                    replies.append((name, try read(envelope)))
                } catch {
                    print("\(name): \(error)")
                    failures += 1
                }
            }
        }
        return (replies, failures)
    }

    /// (name, answer or error) per server.
    private func ask(_ header: String) async throws -> [(name: String, answer: Result<Envelope, RPCClientError>)] {
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
        let (replies, failures) = try await query.replies(Header.listRequest, ListReply.init)
        for (name, listing) in replies {
            print("\(name) (generation \(listing.generation), \(listing.rpcs.count) rpc\(listing.rpcs.count == 1 ? "" : "s"))")
            for rpc in listing.rpcs {
                let label = "\(rpc.service).\(rpc.rpc)"
                print("  \(label.padding(toLength: max(label.count, 18), withPad: " ", startingAt: 0))  (\(rpc.arguments.joined(separator: ", "))) -> (\(rpc.returns.joined(separator: ", ")))  \(rpc.hash.prefix(12))")
            }
        }
        if failures > 0 { throw CLIExit(code: 3) }
    }
}

/// `pyrpc stats [SERVER]`.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show per-RPC calls, errors, timeouts, p50/p99 latency, script hashes and uptime.")

    @OptionGroup var query: AdminQuery

    func run() async throws {
        let (replies, failures) = try await query.replies(Header.statsRequest, StatsReply.init)
        for (name, stats) in replies {
            print("\(name): up \(Int(stats.uptime)) s, generation \(stats.generation)")
            print("  rpc                 signature                       calls  errors  timeouts  p50 ms   p99 ms   hash")
            for rpc in stats.rpcs {
                let columns = [
                    pad("\(rpc.service).\(rpc.rpc)", 19), pad(rpc.signature, 31), pad("\(rpc.calls)", 6), pad("\(rpc.errors)", 7),
                    pad("\(rpc.timeouts)", 9), pad(rpc.p50.map { String(format: "%.3f", $0) } ?? "-", 8),
                    pad(rpc.p99.map { String(format: "%.3f", $0) } ?? "-", 8), String(rpc.hash.prefix(12)),
                ]
                print("  " + columns.joined(separator: " "))
            }
            if let supervision = stats.supervision { printWorkers(supervision) }
        }
        if failures > 0 { throw CLIExit(code: 3) }
    }

    /// A server with worker processes (`serve --processes`): one line per worker, restarts,
    /// and why the latest workers left.
    private func printWorkers(_ supervision: StatsReply.Supervision) {
        let (workers, restarts) = (supervision.workers, supervision.restarts)
        let loop = supervision.crashLoop ? " — CRASH LOOP: workers die as they start" : ""
        print("  \(workers.count) worker process\(workers.count == 1 ? "" : "es"), \(restarts) restart\(restarts == 1 ? "" : "s")\(loop)")
        for worker in workers {
            var columns = [
                "worker " + pad(worker.place.map(String.init) ?? "?", 3), "pid " + pad("\(worker.pid)", 8),
                "up " + pad("\(Int(worker.uptime)) s", 8), "calls " + pad("\(worker.calls)", 9),
                "rss " + pad(String(format: "%.1f MiB", worker.residentMegabytes), 11),
                "generation " + pad("\(worker.generation)", 4), "restarts \(worker.restarts)",
            ]
            if let last = worker.lastExit { columns.append("(last: \(last))") }
            if let leaving = worker.leaving { columns.append("— leaving: \(leaving)") }
            print("    " + columns.joined(separator: " "))
        }
        for exit in supervision.exits { print("    left: \(exit)") }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
