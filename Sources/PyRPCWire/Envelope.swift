/// Message headers. RPC-* are the course protocol; the rest are pyrpc's own, served on the
/// same port (listing, statistics, deploy).
public enum Header {
    public static let rpcRequest = "RPC-REQ"
    public static let rpcResult = "RPC-RES"
    public static let rpcException = "RPC-EX"
    public static let listRequest = "LS-REQ"
    public static let listResult = "LS-RES"
    public static let statsRequest = "STATS-REQ"
    public static let statsResult = "STATS-RES"
    public static let deployManifest = "DEPLOY-MANIFEST"
    public static let deployNeed = "DEPLOY-NEED"
    public static let deployScripts = "DEPLOY-SCRIPTS"
    /// Scripts too large for one DEPLOY-SCRIPTS, in pieces; answered with DEPLOY-RECEIVED.
    public static let deployPieces = "DEPLOY-PIECES"
    public static let deployReceived = "DEPLOY-RECEIVED"
    public static let deployResult = "DEPLOY-RES"
    /// A TLS connection's last message from a leaving worker: `{"last-request": N}`, the
    /// requests it read and answered; the client sends the ones after it again elsewhere.
    public static let goAway = "GOAWAY"
}

/// `{"header": "<TYPE>", "value": {...}}`; `"type"` is accepted as an alias of `"header"`.
public struct Envelope: Sendable {
    public var header: String
    public var value: [String: JSONValue]

    public init(header: String, value: [String: JSONValue]) {
        self.header = header
        self.value = value
    }

    /// Reads an envelope out of a parsed message. Failures are `Bad Request`s saying what is missing.
    public init(message: JSONValue) throws(RPCError) {
        guard case .object(let members) = message else {
            throw .badRequest("a message must be a JSON object like {\"header\": \"RPC-REQ\", \"value\": {...}}, got \(message.kindName)")
        }
        guard let headerValue = members["header"] ?? members["type"] else {
            throw .badRequest("missing field 'header' (the message type, e.g. \"RPC-REQ\")", id: members["value"]?["id"])
        }
        guard case .string(let header) = headerValue else {
            throw .badRequest("field 'header' must be a string, got \(headerValue.kindName)", id: members["value"]?["id"])
        }
        guard let body = members["value"] else {
            throw .badRequest("missing field 'value' (the message body object)")
        }
        guard case .object(let value) = body else {
            throw .badRequest("field 'value' must be an object, got \(body.kindName)")
        }
        self.header = header
        self.value = value
    }

    /// The message as one line of JSON, newline-terminated.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter()
        writer.raw("{\"header\":")
        writer.string(header)
        writer.raw(",\"value\":")
        writer.value(.object(value))
        writer.raw("}\n")
        return writer.bytes
    }
}
