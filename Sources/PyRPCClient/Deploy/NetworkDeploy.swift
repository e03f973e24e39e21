import PyRPCConfig

/// How one server's deploy ended: a summary or a failure, never both.
public struct ServerDeployOutcome: Sendable {
    public let server: String
    public let summary: DeploySummary?
    public let failure: DeployFailure?
}

extension Deployer {
    /// Deploys `network` to all its servers at once. `progress` hears each server as it
    /// finishes; the outcomes come back in the order the file declares the servers.
    ///
    /// ```swift
    /// let outcomes = await Deployer.deployAll(network, token: nil) { print($0.server) }
    /// ```
    /// `sending` hears the script bytes each server holds while a deploy too big for one
    /// message goes in pieces.
    public static func deployAll(
        _ network: NetworkConfig, token: String?, allowPlaintextToken: Bool = false, tlsOverrides: TLSSettings = TLSSettings(),
        sending: @escaping @Sendable (DeployProgress) -> Void = { _ in },
        progress: (ServerDeployOutcome) -> Void = { _ in }
    ) async -> [ServerDeployOutcome] {
        var outcomes: [String: ServerDeployOutcome] = [:]
        await withTaskGroup(of: ServerDeployOutcome.self) { group in
            for server in network.servers {
                group.addTask {
                    await outcome(network, to: server, token: token, allowPlaintextToken: allowPlaintextToken, tlsOverrides: tlsOverrides, sending: sending)
                }
            }
            for await outcome in group {
                outcomes[outcome.server] = outcome
                progress(outcome)
            }
        }
        return network.servers.compactMap { outcomes[$0.name] }
    }

    /// One server's deploy as a plain value, for a task group to carry.
    ///
    /// The child tasks used to return `(name, .success(try await deploy(...)))` from inside a
    /// do/catch. Swift 6.3.1 at -O miscompiles an async closure that builds its tuple result
    /// around a `try await` in a do/catch: the result arrives corrupted (SIGSEGV, "No foreign
    /// strings on Linux", garbled names) although -Onone is correct — typed throws and task
    /// groups are not needed to show it. The awaited value goes into a local first and the
    /// group carries a struct, the shape the compiler gets right.
    static func outcome(
        _ network: NetworkConfig, to server: ServerNode, token: String?, allowPlaintextToken: Bool, tlsOverrides: TLSSettings,
        sending: @escaping @Sendable (DeployProgress) -> Void
    ) async -> ServerDeployOutcome {
        let summary: DeploySummary
        do {
            summary = try await deploy(
                network, to: server, token: token, allowPlaintextToken: allowPlaintextToken, tlsOverrides: tlsOverrides, progress: sending)
        } catch {
            return ServerDeployOutcome(server: server.name, summary: nil, failure: error)
        }
        return ServerDeployOutcome(server: server.name, summary: summary, failure: nil)
    }
}
