/// An RPC-REQ (SPEC §2). Types are kept as the client spelled them: a type name the grammar
/// does not know is an `Invalid Arguments` found during dispatch, not a malformed message.
public struct RPCRequest: Sendable, Equatable {
    public var client: String?
    public var service: String
    public var rpc: String
    public var arguments: [JSONValue]
    public var argumentTypes: [String]
    public var returnTypes: [String]
    public var id: JSONValue?
    /// Seconds; the smaller of this and the server's limit applies.
    public var timeout: Double?
    /// The `arguments` list unparsed, when the server kept it for parsing straight into
    /// Python objects (then `arguments` is empty): JSON text, or MessagePack bytes (already
    /// checked) for a MessagePack connection's request (`parseFastMessagePack`).
    public var rawArguments: ArgumentBytes?

    public init(
        client: String? = nil, service: String, rpc: String, arguments: [JSONValue],
        argumentTypes: [String], returnTypes: [String], id: JSONValue? = nil, timeout: Double? = nil
    ) {
        self.client = client
        self.service = service
        self.rpc = rpc
        self.arguments = arguments
        self.argumentTypes = argumentTypes
        self.returnTypes = returnTypes
        self.id = id
        self.timeout = timeout
    }

    /// Reads the `value` object of an RPC-REQ envelope; `rawArguments` is the unparsed
    /// `arguments` list when the parser kept it aside (see `JSONParser.parse(_:capturing:)`).
    public init(body: [String: JSONValue], rawArguments: ArgumentBytes? = nil) throws(RPCError) {
        let id = body["id"]
        func string(_ key: String) throws(RPCError) -> String {
            guard let field = body[key] else { throw .badRequest("missing field '\(key)' in RPC-REQ", id: id) }
            guard case .string(let text) = field else {
                throw .badRequest("field '\(key)' must be a string, got \(field.kindName)", id: id)
            }
            return text
        }
        func typeList(_ key: String) throws(RPCError) -> [String] {
            guard let field = body[key] else {
                throw .badRequest("missing field '\(key)' in RPC-REQ (a list of type names such as [\"int\", \"int\"])", id: id)
            }
            guard case .array(let entries) = field else {
                throw .badRequest("field '\(key)' must be a list of type names, got \(field.kindName)", id: id)
            }
            var names: [String] = []
            for entry in entries {
                guard case .string(let name) = entry else {
                    throw .badRequest("field '\(key)' must hold type names as strings, found \(entry.kindName)", id: id)
                }
                names.append(name)
            }
            return names
        }

        if let id, !id.isRequestID { throw .badRequest("field 'id' must be a JSON scalar (number or string)") }
        var client: String?
        if let field = body["client"], field != .null {
            guard case .string(let name) = field else {
                throw .badRequest("field 'client' must be a string, got \(field.kindName)", id: id)
            }
            client = name
        }
        let service = try string("service")
        let rpc = try string("rpc")
        guard let argumentsField = body["arguments"] else {
            throw .badRequest("missing field 'arguments' in RPC-REQ (a list of argument values)", id: id)
        }
        var arguments: [JSONValue] = []
        if rawArguments == nil || argumentsField != .null {
            guard case .array(let values) = argumentsField else {
                throw .badRequest("field 'arguments' must be a list, got \(argumentsField.kindName)", id: id)
            }
            arguments = values
        }
        let argumentTypes = try typeList("argument-types")
        let returnTypes = try typeList("return-types")
        var timeout: Double?
        if let field = body["timeout"], field != .null {
            guard let seconds = field.positiveSecondsValue else {
                throw .badRequest("field 'timeout' must be a positive number of seconds", id: id)
            }
            timeout = seconds
        }
        self.init(
            client: client, service: service, rpc: rpc, arguments: arguments,
            argumentTypes: argumentTypes, returnTypes: returnTypes, id: id, timeout: timeout)
        self.rawArguments = rawArguments
    }

    /// The request as one newline-terminated RPC-REQ message.
    public func encoded() -> [UInt8] {
        envelope.encoded()
    }

    /// The request as an RPC-REQ envelope, for either encoding.
    public var envelope: Envelope {
        var body: [String: JSONValue] = [
            "service": .string(service), "rpc": .string(rpc), "arguments": .array(arguments),
            "argument-types": .array(argumentTypes.map(JSONValue.string)),
            "return-types": .array(returnTypes.map(JSONValue.string)),
        ]
        if let client { body["client"] = .string(client) }
        if let id { body["id"] = id }
        if let timeout { body["timeout"] = .float(timeout) }
        return Envelope(header: Header.rpcRequest, value: body)
    }
}

extension JSONValue {
    /// A value a request may carry as its `id`: anything but a list or an object.
    var isRequestID: Bool {
        switch self {
        case .null, .bool, .int, .bigInt, .float, .string: true
        case .array, .object: false
        }
    }
}
