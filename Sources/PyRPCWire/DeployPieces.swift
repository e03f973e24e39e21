/// One stretch of a script's text, for scripts that do not fit one DEPLOY-SCRIPTS message
/// (SPEC §6): `offset` and `size` count UTF-8 bytes, and `text` ends on a character boundary.
public struct ScriptPiece: Sendable, Equatable, Codable {
    /// SHA-256 of the whole script, which the server checks once every byte has arrived.
    public var hash: String
    /// The whole script's length in UTF-8 bytes.
    public var size: Int
    /// Where `text` starts in the whole script.
    public var offset: Int
    public var text: String

    public init(hash: String, size: Int, offset: Int, text: String) {
        self.hash = hash
        self.size = size
        self.offset = offset
        self.text = text
    }

    var json: JSONValue {
        .object(["hash": .string(hash), "size": .int(size), "offset": .int(offset), "text": .string(text)])
    }

    init(json: JSONValue) throws(RPCError) {
        let reader = FieldReader(json, context: "a DEPLOY-PIECES piece")
        hash = try reader.string("hash")
        size = try reader.int("size")
        offset = try reader.int("offset")
        text = try reader.string("text")
        guard ScriptHash.isWellFormed(hash) else {
            throw .badRequest("a piece's 'hash' must be a SHA-256 in 64 lowercase hex digits, got '\(hash.prefix(80))'")
        }
        guard size >= 0, offset >= 0, offset <= size, text.utf8.count <= size - offset else {
            throw .badRequest("a piece of script \(hash.prefix(12)) does not fit its script: \(text.utf8.count) bytes at offset \(offset) of \(size)")
        }
    }
}

/// DEPLOY-PIECES `{server, pieces: [{hash, size, offset, text}], token}`: script text the
/// server keeps until a DEPLOY-SCRIPTS (or DEPLOY-MANIFEST) names it; answered with
/// DEPLOY-RECEIVED. `server` is checked like a manifest's.
public struct DeployPieces: Sendable, Equatable {
    public var server: String
    public var pieces: [ScriptPiece]
    public var token: String?

    public init(server: String, pieces: [ScriptPiece], token: String?) {
        self.server = server
        self.pieces = pieces
        self.token = token
    }

    public var envelope: Envelope {
        var value: [String: JSONValue] = ["server": .string(server), "pieces": .array(pieces.map(\.json))]
        if let token { value["token"] = .string(token) }
        return Envelope(header: Header.deployPieces, value: value)
    }

    /// Reads the message (its token is checked by the server, not here).
    public init(_ envelope: Envelope) throws(RPCError) {
        let reader = FieldReader(.object(envelope.value), context: "DEPLOY-PIECES")
        server = try reader.string("server")
        var pieces: [ScriptPiece] = []
        for item in try reader.array("pieces") { pieces.append(try ScriptPiece(json: item)) }
        self.pieces = pieces
        token = envelope.value["token"]?.stringValue
    }
}

/// DEPLOY-RECEIVED `{received: {hash: bytes}}`: how many bytes of each script of a
/// DEPLOY-PIECES the server now holds (its size once whole and verified).
public struct DeployReceived: Sendable, Equatable {
    public var received: [String: Int]

    public init(received: [String: Int]) {
        self.received = received
    }

    public var envelope: Envelope {
        Envelope(header: Header.deployReceived, value: ["received": .object(received.mapValues(JSONValue.int))])
    }

    public init(_ envelope: Envelope) throws(RPCError) {
        guard case .object(let members)? = envelope.value["received"] else { throw .badRequest("DEPLOY-RECEIVED needs an object 'received'") }
        var received: [String: Int] = [:]
        for (hash, bytes) in members {
            guard case .int(let count) = bytes else { throw .badRequest("DEPLOY-RECEIVED 'received' must map hashes to byte counts") }
            received[hash] = count
        }
        self.received = received
    }
}

/// What the server holds of a script an interrupted deploy began to send (DEPLOY-NEED
/// `partial`): its first `bytes` bytes, whose SHA-256 lets the deployer check that they are
/// the start of its own text before it sends only the rest.
public struct PartialScript: Sendable, Equatable {
    public var bytes: Int
    public var sha256: String

    public init(bytes: Int, sha256: String) {
        self.bytes = bytes
        self.sha256 = sha256
    }

    var json: JSONValue { .object(["bytes": .int(bytes), "sha256": .string(sha256)]) }

    init(json: JSONValue) throws(RPCError) {
        let reader = FieldReader(json, context: "DEPLOY-NEED partial")
        bytes = try reader.int("bytes")
        sha256 = try reader.string("sha256")
    }
}
