import PyRPCWire

/// Reads `rpc:` — every overload, attached to its service(s), with duplicates rejected.
///
/// Two layouts are accepted:
/// - a list, `- add: {...}`, where an RPC belongs to every service whose `rpcs:` lists its name
///   (or to the one named by its own `service:` key);
/// - a map from service name to such a list.
struct RPCSection: Sendable {
    /// Every overload, in file order; an RPC listed by two services appears once per service.
    var rpcs: [RPCConfig] = []

    static let keys = [
        KeySpec("args", aliases: ["arguments", "argument-types"]),
        KeySpec("returns", aliases: ["return", "return-types"]),
        KeySpec("src", aliases: ["source", "file"]),
        KeySpec("function"),
        KeySpec("timeout"),
        KeySpec("service"),
    ]
    static let example = "- add: {args: [int, int], returns: [int], src: services/calc/add.py}"

    init(_ node: YAMLNode?, services: ServiceSection, baseDirectory: String, reader: NodeReader) throws(ConfigError) {
        let serviceNames = services.services.map(\.name)
        var firstLine: [OverloadKey: Int] = [:]

        for (entry, enclosing) in try Self.entries(node, serviceNames: serviceNames, reader: reader) {
            let definition = try Definition(entry, baseDirectory: baseDirectory, reader: reader)

            let targets: [String]
            if let explicitService = definition.explicitService {
                let (explicit, explicitNode) = explicitService
                guard serviceNames.contains(explicit) else {
                    throw reader.error(at: explicitNode, "unknown service '\(explicit)' for rpc '\(entry.name)'; declared services are \(NodeReader.list(serviceNames))")
                }
                if let enclosing, enclosing != explicit {
                    throw reader.error(at: explicitNode, "rpc '\(entry.name)' is written under service '\(enclosing)' but says service: \(explicit); remove one of them")
                }
                targets = [explicit]
            } else if let enclosing {
                targets = [enclosing]
            } else {
                targets = services.services.filter { $0.rpcNames.contains { $0.name == entry.name } }.map(\.name)
                guard !targets.isEmpty else {
                    throw reader.error(at: entry.nameNode, "rpc '\(entry.name)' is not listed in any service's rpcs; add it to a service's `rpcs: [...]` or give it `service: <name>` (services: \(NodeReader.list(serviceNames)))")
                }
            }

            for service in targets {
                let key = OverloadKey(service: service, name: entry.name, arguments: definition.signature.arguments)
                if let line = firstLine[key] {
                    let arguments = definition.signature.arguments.map(\.description).joined(separator: ", ")
                    throw reader.error(at: entry.nameNode, "duplicate overload \(entry.name)(\(arguments)) in service '\(service)'; the first is at line \(line) (overloads of one rpc must differ in argument types)")
                }
                firstLine[key] = entry.nameNode.line
                rpcs.append(RPCConfig(
                    service: service, name: entry.name, signature: definition.signature,
                    source: definition.source, sourceAsWritten: definition.sourceAsWritten,
                    function: definition.function, timeout: definition.timeout))
            }
        }

        // Every name a service lists must have a definition.
        for service in services.services {
            for (name, nameNode) in service.rpcNames where !rpcs.contains(where: { $0.service == service.name && $0.name == name }) {
                var message = "rpc '\(name)' is listed in service '\(service.name)' but not defined"
                message += node == nil
                    ? "; the file has no top-level 'rpc' section (expected `rpc:` with entries like `\(Self.example)`)"
                    : " in the 'rpc' section (expected an entry like `- \(name): {args: [...], returns: [...], src: ...}`)"
                throw reader.error(at: nameNode, message)
            }
        }
    }

    /// The entries of the section, each with the service it is written under (map layout).
    private static func entries(
        _ node: YAMLNode?, serviceNames: [String], reader: NodeReader
    ) throws(ConfigError) -> [(NamedEntry, String?)] {
        guard let node, !node.isNull else { return [] }
        switch node.content {
        case .mapping(let pairs):
            var result: [(NamedEntry, String?)] = []
            for pair in pairs {
                let service = try reader.text(pair.key, expected: "a service name")
                guard serviceNames.contains(service) else {
                    var message = "unknown service '\(service)' in the rpc section; declared services are \(NodeReader.list(serviceNames))"
                    if case .mapping(let inner) = pair.value.content,
                       inner.contains(where: { key in keys.contains { $0.spellings.contains(key.key.scalar ?? "") } }) {
                        message += ". To define rpcs by name, write the section as a list: `rpc:` then `\(Self.example)`"
                    }
                    throw reader.error(at: pair.key, message)
                }
                for entry in try reader.namedEntries(pair.value, kind: "rpc", example: example) {
                    result.append((entry, service))
                }
            }
            return result
        case .sequence:
            return try reader.namedEntries(node, kind: "rpc", example: example).map { ($0, nil) }
        case .scalar:
            throw reader.error(at: node, "expected the rpc section as a list like `\(example)`, found \(node.kindDescription)")
        }
    }

    /// The identity of an overload within the network.
    private struct OverloadKey: Hashable {
        var service: String
        var name: String
        var arguments: [RPCType]
    }
}
