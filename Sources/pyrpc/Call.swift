import ArgumentParser
import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCWire

/// `pyrpc call SERVICE RPC [ARG...]`.
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call an RPC and print its return values, one per line.",
        discussion: """
            Arguments are JSON or Python literals (2, 2.5, true, "text", '[1, 2]'); bare words
            are strings. Without --arg-types the overload init.yaml declares that the literals
            fit is used. Exit codes: 0 result, 1 RPC exception, 2 usage/config, 3 network.
            """)

    @Argument(help: "The service, e.g. calc.")
    var service: String

    @Argument(help: "The rpc, e.g. add.")
    var rpc: String

    @Argument(parsing: .allUnrecognized, help: "The arguments.")
    var arguments: [String] = []

    @Option(name: .customLong("as"), help: "Call as this client of init.yaml (default: the service's first tenant).")
    var client: String?

    @Option(help: "Call this server of init.yaml (default: the service's first reachable provider).")
    var server: String?

    @Option(help: "Call the server at HOST:PORT.")
    var to: String?

    @Option(help: "Argument types, comma-separated, e.g. int,int or 'List[float]'.")
    var argTypes: String?

    @Option(help: "Return types, comma-separated, e.g. int.")
    var returnTypes: String?

    @Option(help: "A time limit in seconds (the server's own limit still applies).")
    var timeout: Double?

    @Flag(help: "Print the server's answer as JSON.")
    var json = false

    @OptionGroup var tlsFlags: TLSClientFlags

    @OptionGroup var configOption: ConfigOption

    func validate() throws {
        if server != nil && to != nil { throw ValidationError("give --server or --to, not both") }
    }

    func run() async throws {
        let network = try configOption.load(required: to == nil || argTypes == nil)
        let service = network?.service(named: self.service)
        let declared = service?.overloads(of: rpc).map(\.signature) ?? []
        let plan: CallPlanner.Plan
        do {
            plan = try CallPlanner.plan(
                literals: arguments,
                argumentTypes: try argTypes.map(CallPlanner.parseTypeList),
                returnTypes: try returnTypes.map(CallPlanner.parseTypeList),
                overloads: declared, rpcLabel: "\(self.service).\(rpc)")
        } catch {
            throw CLIExit.usage("\(error)")
        }

        let clientName = client ?? service?.tenants.first
        let clientHost = clientName.flatMap { network?.client(named: $0)?.host }
        let targets = try endpoints(network, service)
        let request = RPCRequest(
            client: clientName, service: self.service, rpc: rpc, arguments: plan.arguments,
            argumentTypes: plan.signature.arguments.map(\.description),
            returnTypes: plan.signature.returns.map(\.description), timeout: timeout)

        var failures: [String] = []
        for target in targets {
            let tls: TLSConfiguration?
            do {
                tls = try TLSConfiguration.choose(
                    for: target.node, in: network, identity: clientName.flatMap { network?.client(named: $0)?.tls }, overrides: tlsFlags.overrides)
            } catch {
                throw CLIExit.usage("\(error)")
            }
            let connection = RPCClient(
                host: target.host, port: target.port, client: clientName,
                localAddress: localAddress(for: clientHost, target: target.host), tls: tls)
            defer { connection.close() }
            let answer: Envelope
            do {
                answer = try await connection.send(request.envelope)
            } catch {
                failures.append("\(error)")
                continue
            }
            return try report(answer)
        }
        throw CLIExit.network(failures.joined(separator: "\n") + "\n" + Self.hint(for: failures))
    }

    /// What to try, for the failure seen: TLS settings that do not match the server's, a
    /// server that is not running, or one that dropped the call.
    static func hint(for failures: [String]) -> String {
        if failures.contains(where: { $0.contains("TLS") }) {
            return "(check the TLS files: --tls-ca or init.yaml's `tls: {ca}` must be the CA that signed the server's certificate, which must name the host called; a server that requires client certificates needs --tls-cert/--tls-key or the client's `tls:` in init.yaml)"
        }
        if failures.contains(where: { $0.contains("reset by peer") || $0.contains("closed the connection before answering") }) {
            return "(if the server speaks TLS, declare `tls:` for it in init.yaml or pass --tls-ca; otherwise the server's log says why; a worker process that crashed during the call is replaced at once)"
        }
        if failures.contains(where: { $0.contains("cannot connect") }) {
            return "(start the servers with `pyrpc up` or `pyrpc serve NAME`)"
        }
        return "(the server's log says why; a worker process that crashed during the call is replaced at once)"
    }

    private func report(_ answer: Envelope) throws {
        if json {
            print(String(decoding: answer.encoded().dropLast(), as: UTF8.self))
        }
        do {
            let values = try RPCReply.decode(answer)
            if !json {
                for value in values {
                    if case .string(let text) = value { print(text) } else { print(value.jsonText) }
                }
            }
        } catch {
            throw CLIExit.rpc(json ? nil ?? "\(error.type.rawValue): \(error.message)" : "\(error.type.rawValue): \(error.message)")
        }
    }

    private func endpoints(_ network: NetworkConfig?, _ service: ServiceConfig?) throws -> [(host: String, port: Int, node: ServerNode?)] {
        if let to {
            let endpoint = try parseEndpoint(to)
            return [(endpoint.host, endpoint.port, network?.server(at: endpoint.host, endpoint.port))]
        }
        guard let network else { throw CLIExit.usage("no \(configOption.config) here: pass --to HOST:PORT and --arg-types/--return-types") }
        if let server {
            guard let node = network.server(named: server) else {
                throw CLIExit.usage("\(network.file) declares no server '\(server)'; it declares \(network.servers.map(\.name).joined(separator: ", "))")
            }
            return [(node.host, node.port, node)]
        }
        guard let service else {
            throw CLIExit.usage("\(network.file) declares no service '\(self.service)'; it declares \(network.services.map(\.name).joined(separator: ", "))")
        }
        return service.providers.compactMap { network.server(named: $0) }.map { ($0.host, $0.port, $0) }
    }

    /// Connect from the client's declared address when it is another loopback address
    /// (127.0.0.2, say), so the server's address check sees the caller it expects.
    private func localAddress(for clientHost: String?, target: String) -> String? {
        guard let clientHost, clientHost != "127.0.0.1", clientHost != "localhost" else { return nil }
        let isLoopback = clientHost.hasPrefix("127.") || clientHost == "::1"
        let sameFamily = clientHost.contains(":") == target.contains(":")
        return isLoopback && sameFamily ? clientHost : nil
    }
}
