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

    @Option(name: .customLong("as"), help: ArgumentHelp(
        "Ask as this declared client, which sees the services it is a tenant of (default: the operator, from this host or with the deploy token).",
        valueName: "client"))
    var client: String?

    @Option(help: "A file holding the deploy token, which shows everything from another host (default: $PYRPC_DEPLOY_TOKEN).")
    var deployTokenFile: String?

    @Flag(help: "Send the deploy token to servers on other hosts although the connection is not encrypted.")
    var insecurePlaintextToken = false

    @OptionGroup var tlsFlags: TLSClientFlags

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
        var targets: [(name: String, host: String, port: Int, node: ServerNode?)] = []
        let network = try configOption.load(required: to == nil)
        if let to {
            let endpoint = try parseEndpoint(to)
            targets = [(to, endpoint.host, endpoint.port, network?.server(at: endpoint.host, endpoint.port))]
        } else if let network {
            if let server {
                guard let node = network.server(named: server) else {
                    throw CLIExit.usage("\(network.file) declares no server '\(server)'; it declares \(network.servers.map(\.name).joined(separator: ", "))")
                }
                targets = [(node.name, node.host, node.port, node)]
            } else {
                targets = network.servers.map { ($0.name, $0.host, $0.port, $0) }
            }
        }
        let token = try readDeployToken(file: deployTokenFile)
        var answers: [(String, Result<Envelope, RPCClientError>)] = []
        for target in targets {
            var value: [String: JSONValue] = [:]
            if let client { value["client"] = .string(client) }
            // As the client asked for, or as the operator (init.yaml's top-level certificate).
            let identity = self.client.map { network?.client(named: $0)?.tls } ?? network?.tls
            let tls: TLSConfiguration?
            do {
                tls = try TLSConfiguration.choose(for: target.node, in: network, identity: identity, overrides: tlsFlags.overrides)
            } catch {
                throw CLIExit.usage("\(error)")
            }
            // Only encrypted or where it stays on this machine, unless told: see `PlaintextToken`.
            if let token, tls != nil || insecurePlaintextToken || PlaintextToken.refusal(host: target.host, port: target.port) == nil {
                value["token"] = .string(token)
            }
            let client = RPCClient(host: target.host, port: target.port, tls: tls)
            defer { client.close() }
            // The awaited answer goes into a local before it is wrapped: see `Deployer.outcome`.
            let answer: Envelope
            do {
                answer = try await client.send(Envelope(header: header, value: value))
            } catch {
                answers.append((target.name, .failure(error)))
                continue
            }
            answers.append((target.name, .success(answer)))
        }
        return answers
    }
}
