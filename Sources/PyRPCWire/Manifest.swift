/// What one server should serve: the desired state a deploy sends (SPEC §6). Scripts are
/// named by the SHA-256 of their text, so a server can say which ones it lacks.
public struct ServerManifest: Sendable, Equatable, Codable {
    public var server: String
    /// Every client declared in init.yaml with its address (for identification by name + IP).
    public var clients: [ClientAddress]
    /// Addresses of every node of the network (servers and clients), for the deploy guard.
    public var nodeAddresses: [String]
    public var services: [ServiceManifest]
    /// The venv and extra import folders the server's scripts use (init.yaml's `python:`).
    public var python: PythonEnvironment

    public init(
        server: String, clients: [ClientAddress], nodeAddresses: [String], services: [ServiceManifest],
        python: PythonEnvironment = .none
    ) {
        self.server = server
        self.clients = clients
        self.nodeAddresses = nodeAddresses
        self.services = services
        self.python = python
    }

    /// Every distinct script hash the manifest uses.
    public var scriptHashes: Set<String> {
        Set(services.flatMap { $0.rpcs.map(\.scriptHash) })
    }
}

public struct ClientAddress: Sendable, Equatable, Codable {
    public var name: String
    public var host: String

    public init(name: String, host: String) {
        self.name = name
        self.host = host
    }
}

public struct ServiceManifest: Sendable, Equatable, Codable {
    public var name: String
    public var tenants: [String]
    public var rpcs: [RPCManifest]

    public init(name: String, tenants: [String], rpcs: [RPCManifest]) {
        self.name = name
        self.tenants = tenants
        self.rpcs = rpcs
    }
}

/// One overload: (service, name, argument types) → script, function, limits.
public struct RPCManifest: Sendable, Equatable, Codable {
    public var name: String
    public var signature: Signature
    public var function: String
    public var timeout: Double?
    /// Lowercase hex SHA-256 of the script text.
    public var scriptHash: String
    /// The script's path on the deploying machine; tracebacks and errors show it.
    public var scriptPath: String

    public init(name: String, signature: Signature, function: String, timeout: Double?, scriptHash: String, scriptPath: String) {
        self.name = name
        self.signature = signature
        self.function = function
        self.timeout = timeout
        self.scriptHash = scriptHash
        self.scriptPath = scriptPath
    }
}

// MARK: JSON form

extension ServerManifest {
    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "server": .string(server),
            "clients": .array(clients.map { .object(["name": .string($0.name), "host": .string($0.host)]) }),
            "nodes": .array(nodeAddresses.map(JSONValue.string)),
            "services": .array(services.map(\.json)),
        ]
        // Omitted when empty, so manifests stored by earlier versions read back equal.
        if !python.isEmpty { fields["python"] = python.json }
        return .object(fields)
    }

    public init(json: JSONValue) throws(RPCError) {
        let reader = FieldReader(json, context: "manifest")
        server = try reader.string("server")
        clients = try reader.array("clients").map { (entry: JSONValue) throws(RPCError) -> ClientAddress in
            let client = FieldReader(entry, context: "manifest client")
            return ClientAddress(name: try client.string("name"), host: try client.string("host"))
        }
        nodeAddresses = try reader.array("nodes").map { (entry: JSONValue) throws(RPCError) -> String in
            guard case .string(let address) = entry else { throw .badRequest("manifest nodes must be strings") }
            return address
        }
        services = try reader.array("services").map { (entry: JSONValue) throws(RPCError) -> ServiceManifest in
            try ServiceManifest(json: entry)
        }
        python = try json["python"].map { (field: JSONValue) throws(RPCError) -> PythonEnvironment in try PythonEnvironment(json: field) } ?? .none
    }
}

extension ServiceManifest {
    var json: JSONValue {
        .object([
            "name": .string(name),
            "tenants": .array(tenants.map(JSONValue.string)),
            "rpcs": .array(rpcs.map(\.json)),
        ])
    }

    init(json: JSONValue) throws(RPCError) {
        let reader = FieldReader(json, context: "manifest service")
        name = try reader.string("name")
        tenants = try reader.array("tenants").map { (entry: JSONValue) throws(RPCError) -> String in
            guard case .string(let tenant) = entry else { throw .badRequest("manifest tenants must be strings") }
            return tenant
        }
        rpcs = try reader.array("rpcs").map { (entry: JSONValue) throws(RPCError) -> RPCManifest in try RPCManifest(json: entry) }
    }
}

extension RPCManifest {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name),
            "args": .array(signature.arguments.map { .string($0.description) }),
            "returns": .array(signature.returns.map { .string($0.description) }),
            "function": .string(function),
            "hash": .string(scriptHash),
            "path": .string(scriptPath),
        ]
        if let timeout { members["timeout"] = .float(timeout) }
        return .object(members)
    }

    init(json: JSONValue) throws(RPCError) {
        let reader = FieldReader(json, context: "manifest rpc")
        let name = try reader.string("name")
        self.name = name
        func types(_ key: String) throws(RPCError) -> [RPCType] {
            var types: [RPCType] = []
            for entry in try reader.array(key) {
                guard case .string(let text) = entry else { throw .badRequest("manifest rpc \(key) must be type names") }
                do {
                    types.append(try RPCType(parsing: text))
                } catch {
                    throw .badRequest("manifest rpc \(name): \(error)")
                }
            }
            return types
        }
        signature = Signature(arguments: try types("args"), returns: try types("returns"))
        function = try reader.string("function")
        scriptHash = try reader.string("hash")
        scriptPath = try reader.string("path")
        // Refused as init.yaml and RPC-REQ refuse it: anything else would not survive the
        // manifest's round trip to disk.
        if let value = json["timeout"], value != .null {
            guard let seconds = value.positiveSecondsValue else {
                throw .badRequest("manifest rpc \(name): timeout must be a positive number of seconds")
            }
            timeout = seconds
        } else {
            timeout = nil
        }
    }
}

/// Reads required fields of a JSON object with `Bad Request` errors naming the field.
struct FieldReader {
    let value: JSONValue
    let context: String

    init(_ value: JSONValue, context: String) {
        self.value = value
        self.context = context
    }

    func string(_ key: String) throws(RPCError) -> String {
        guard case .string(let text)? = value[key] else { throw .badRequest("\(context) needs a string '\(key)'") }
        return text
    }

    func array(_ key: String) throws(RPCError) -> [JSONValue] {
        guard case .array(let items)? = value[key] else { throw .badRequest("\(context) needs a list '\(key)'") }
        return items
    }

    func int(_ key: String) throws(RPCError) -> Int {
        guard case .int(let number)? = value[key] else { throw .badRequest("\(context) needs an integer '\(key)'") }
        return number
    }

    func number(_ key: String) throws(RPCError) -> Double {
        guard let number = value[key]?.numberValue else { throw .badRequest("\(context) needs a number '\(key)'") }
        return number
    }

    func strings(_ key: String) throws(RPCError) -> [String] {
        var texts: [String] = []
        for item in try array(key) {
            guard case .string(let text) = item else { throw .badRequest("\(context) needs a list of strings '\(key)'") }
            texts.append(text)
        }
        return texts
    }
}
