import Foundation
import PyRPCConfig
import PyRPCWire

/// A script declared in init.yaml that could not be read.
public struct ScriptReadError: Error, Sendable, CustomStringConvertible {
    public var rpc: RPCConfig
    public var reason: String
    public var description: String {
        "\(rpc.sourceAsWritten): \(reason) (rpc \(rpc.service).\(rpc.name) declares it as its src)"
    }
}

/// Turns init.yaml into what each server should run: its manifest and the script texts.
public enum ManifestBuilder {
    /// The manifest for `server` and the text of every script it uses, by SHA-256.
    public static func build(_ config: NetworkConfig, server: String) throws(ScriptReadError) -> (manifest: ServerManifest, sources: [String: String]) {
        var sources: [String: String] = [:]
        var textByPath: [String: String] = [:]
        var services: [ServiceManifest] = []
        for service in config.services(providedBy: server) {
            var rpcs: [RPCManifest] = []
            for rpc in service.rpcs {
                let text: String
                if let cached = textByPath[rpc.source] {
                    text = cached
                } else {
                    text = try read(rpc)
                    textByPath[rpc.source] = text
                }
                let hash = ScriptHash.sha256(text)
                sources[hash] = text
                rpcs.append(RPCManifest(
                    name: rpc.name, signature: rpc.signature, function: rpc.function,
                    timeout: rpc.timeout, scriptHash: hash, scriptPath: shareablePath(rpc.sourceAsWritten)))
            }
            services.append(ServiceManifest(name: service.name, tenants: service.tenants, rpcs: rpcs))
        }
        let manifest = ServerManifest(
            server: server,
            clients: config.clients.map { ClientAddress(name: $0.name, host: $0.host) },
            nodeAddresses: Array(Set(config.servers.map(\.host) + config.clients.map(\.host))).sorted(),
            services: services,
            python: config.server(named: server)?.python.environment ?? .none)
        return (manifest, sources)
    }

    /// The path a server knows a script by (its tracebacks, `__file__`, `pyrpc ls`): as
    /// init.yaml writes it, relative to its folder. No path of the deploying machine travels:
    /// an absolute one becomes its file name.
    static func shareablePath(_ written: String) -> String {
        written.hasPrefix("/") ? String(written.split(separator: "/").last ?? "") : written
    }

    private static func read(_ rpc: RPCConfig) throws(ScriptReadError) -> String {
        guard let data = FileManager.default.contents(atPath: rpc.source) else {
            throw ScriptReadError(rpc: rpc, reason: FileManager.default.fileExists(atPath: rpc.source) ? "cannot read the file" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ScriptReadError(rpc: rpc, reason: "the file is not UTF-8 text")
        }
        return text
    }
}
