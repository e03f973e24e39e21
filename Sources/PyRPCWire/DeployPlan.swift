/// How the scripts of a deploy that does not fit one DEPLOY-SCRIPTS message travel: in
/// DEPLOY-PIECES messages of at most `budget` bytes each (JSON-escaped, as written), a script
/// larger than what is left of a message cut into pieces on character boundaries.
public struct DeployPlan: Sendable {
    public struct Script: Sendable {
        public var hash: String
        public var text: String
        /// Bytes the server already holds (a resumed deploy): the first piece starts there.
        public var from: Int

        public init(hash: String, text: String, from: Int = 0) {
            self.hash = hash
            self.text = text
            self.from = from
        }
    }

    public var messages: [DeployPieces]

    /// The smallest budget a plan accepts: any piece's fields and one character fit.
    public static let smallestBudget = 1024

    /// Packs `scripts` in order; each message's encoded length, newline included, is at most `budget`.
    public init(_ scripts: [Script], server: String, token: String?, budget: Int) throws(RPCError) {
        guard budget >= Self.smallestBudget else {
            throw RPCError(.deployRejected, "the server reads messages of at most \(budget) bytes, too few to carry a script; raise its --max-message-bytes")
        }
        let empty = Self.length(of: DeployPieces(server: server, pieces: [], token: token))
        var messages: [DeployPieces] = []
        var current: [ScriptPiece] = []
        var used = empty
        for script in scripts {
            let utf8 = Array(script.text.utf8)
            let size = utf8.count
            var offset = min(max(script.from, 0), size)
            repeat {
                let bare = Self.length(of: ScriptPiece(hash: script.hash, size: size, offset: offset, text: "").json)
                var room = budget - used - bare - (current.isEmpty ? 0 : 1)
                var (end, cost) = Self.end(of: utf8, from: offset, room: room)
                if end == offset && offset < size || room < 0, !current.isEmpty {
                    // Not one character fits in what is left: the next message.
                    messages.append(DeployPieces(server: server, pieces: current, token: token))
                    (current, used) = ([], empty)
                    room = budget - used - bare
                    (end, cost) = Self.end(of: utf8, from: offset, room: room)
                }
                guard room >= 0, end > offset || offset == size else {
                    throw RPCError(.deployRejected, "the server reads messages of at most \(budget) bytes, too few to carry a piece of a script; raise its --max-message-bytes")
                }
                let piece = ScriptPiece(hash: script.hash, size: size, offset: offset, text: String(decoding: utf8[offset..<end], as: UTF8.self))
                used += bare + cost + (current.isEmpty ? 0 : 1)
                current.append(piece)
                offset = end
            } while offset < size
        }
        if !current.isEmpty { messages.append(DeployPieces(server: server, pieces: current, token: token)) }
        self.messages = messages
    }

    /// Where a piece starting at `start` ends so that its escaped text takes at most `room`
    /// bytes: the longest stretch that does, cut before a UTF-8 continuation byte; and the
    /// bytes its text takes escaped.
    static func end(of utf8: [UInt8], from start: Int, room: Int) -> (end: Int, cost: Int) {
        utf8.withUnsafeBufferPointer { bytes in
            var index = start
            var cost = 0
            while index < bytes.count {
                let byte = bytes[index]
                // Most bytes are written as they are (the writer's rule, `escapedLength`).
                let length = byte >= 0x20 && byte != 0x22 && byte != 0x5C ? 1 : JSONWriter.escapedLength(of: byte)
                if cost + length > room { break }
                cost += length
                index += 1
            }
            while index > start && index < bytes.count && bytes[index] & 0xC0 == 0x80 {
                index -= 1
                cost -= 1  // a continuation byte is never escaped
            }
            return (index, cost)
        }
    }

    static func length(of pieces: DeployPieces) -> Int {
        pieces.envelope.encoded().count
    }

    static func length(of value: JSONValue) -> Int {
        var writer = JSONWriter(capacity: 256)
        writer.value(value)
        return writer.bytes.count
    }
}
