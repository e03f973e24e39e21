/// Scripts arriving in pieces (DEPLOY-PIECES), put back together. A script becomes whole only
/// once its last byte arrived and the SHA-256 of all of them is its hash: until then it is
/// only ever reported as partial, so no deploy can take half a script for a whole one.
///
/// Pieces of one script arrive in order; a piece at offset 0 starts the script again. What is
/// held, partial or whole, is bounded by `limit` (the server's `--max-deploy-bytes`); a script
/// untouched for `patience` is dropped when room is needed, so an abandoned deploy's pieces
/// never stand in a later one's way.
public struct ScriptAssembly: Sendable {
    public let limit: Int
    public let patience: Duration
    private var partial: [String: Partial] = [:]
    private var whole: [String: Whole] = [:]
    /// UTF-8 bytes held, partial and whole.
    public private(set) var heldBytes = 0

    private struct Partial {
        var size: Int
        var bytes: [UInt8]
        var touched: ContinuousClock.Instant
    }

    private struct Whole {
        var text: String
        var touched: ContinuousClock.Instant
    }

    public init(limit: Int, patience: Duration = .seconds(600)) {
        self.limit = limit
        self.patience = patience
    }

    /// Takes one piece; returns how many bytes of its script are now held (its size once
    /// whole). `Deploy Rejected` when it does not continue what is held, would hold more than
    /// `limit`, or completes a script whose SHA-256 is not its hash (which is then dropped).
    public mutating func receive(_ piece: ScriptPiece, now: ContinuousClock.Instant) throws(RPCError) -> Int {
        let hash = piece.hash
        guard piece.offset >= 0, piece.text.utf8.count <= piece.size - piece.offset else {
            throw .badRequest("a piece of script \(hash.prefix(12)) does not fit its script: \(piece.text.utf8.count) bytes at offset \(piece.offset) of \(piece.size)")
        }
        if whole[hash] != nil {
            whole[hash]?.touched = now
            return piece.size
        }
        guard piece.size <= limit else {
            throw RPCError(.deployRejected, "script \(hash.prefix(12)) is \(piece.size) bytes, more than this server's --max-deploy-bytes (\(limit))")
        }
        var held = partial.removeValue(forKey: hash)
        if let current = held {
            heldBytes -= current.bytes.count
            if piece.offset == 0 || current.size != piece.size { held = nil }
        }
        let start = held?.bytes.count ?? 0
        guard piece.offset == start else {
            if let held { keep(held, as: hash) }
            throw RPCError(.deployRejected, "a piece of script \(hash.prefix(12)) starts at byte \(piece.offset), but the server holds \(start) bytes of it; deploy again to send the rest")
        }
        let adding = piece.text.utf8.count
        if heldBytes + start + adding > limit { expire(now: now) }
        guard heldBytes + start + adding <= limit else {
            if let held { keep(held, as: hash) }
            throw RPCError(.deployRejected, "the scripts in transit to this server would pass its --max-deploy-bytes (\(limit) bytes); deploy fewer or smaller scripts, or raise the limit")
        }
        var assembling = held ?? Partial(size: piece.size, bytes: [], touched: now)
        assembling.bytes.append(contentsOf: piece.text.utf8)
        assembling.touched = now
        guard assembling.bytes.count == assembling.size else {
            keep(assembling, as: hash)
            return assembling.bytes.count
        }
        let arrived = ScriptHash.sha256(bytes: assembling.bytes)
        guard arrived == hash else {
            throw RPCError(.deployRejected, "script \(hash.prefix(12)) arrived whole with SHA-256 \(arrived.prefix(12)): it changed while it was being sent, or was corrupted; deploy again")
        }
        // Each piece's text was valid UTF-8, so their concatenation is too.
        whole[hash] = Whole(text: String(decoding: assembling.bytes, as: UTF8.self), touched: now)
        heldBytes += assembling.size
        return assembling.size
    }

    /// A whole, verified script.
    public func script(_ hash: String) -> String? {
        whole[hash]?.text
    }

    /// What is held of a script not yet whole, for a deployer to resume from.
    public func held(_ hash: String) -> PartialScript? {
        guard let held = partial[hash], !held.bytes.isEmpty else { return nil }
        return PartialScript(bytes: held.bytes.count, sha256: ScriptHash.sha256(bytes: held.bytes))
    }

    /// Scripts a deploy stored: no longer held here.
    public mutating func release(_ hashes: Set<String>) {
        for hash in hashes {
            if let gone = whole.removeValue(forKey: hash) { heldBytes -= gone.text.utf8.count }
            if let gone = partial.removeValue(forKey: hash) { heldBytes -= gone.bytes.count }
        }
    }

    /// Drops what was not touched for `patience`.
    public mutating func expire(now: ContinuousClock.Instant) {
        let stale = Set(partial.filter { now - $0.value.touched > patience }.keys)
            .union(whole.filter { now - $0.value.touched > patience }.keys)
        release(stale)
    }

    private mutating func keep(_ held: Partial, as hash: String) {
        partial[hash] = held
        heldBytes += held.bytes.count
    }
}
