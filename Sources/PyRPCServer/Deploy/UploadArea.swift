import NIOConcurrencyHelpers
import PyRPCWire

/// The scripts deploys are sending in pieces (DEPLOY-PIECES), kept in the process that
/// carries deploys out (the supervisor, or a server on its own) until a deploy names them.
/// In memory: a restart forgets them, and the next deploy sends them again.
final class UploadArea: Sendable {
    private let assembly: NIOLockedValueBox<ScriptAssembly>

    init(limit: Int) {
        assembly = NIOLockedValueBox(ScriptAssembly(limit: limit))
    }

    /// Bytes now held of each piece's script, or the refusal of the first piece that did not fit.
    func receive(_ pieces: [ScriptPiece]) throws(RPCError) -> [String: Int] {
        let now = ContinuousClock.now
        return try assembly.withLockedValue { assembly in
            Result { () throws(RPCError) -> [String: Int] in
                var received: [String: Int] = [:]
                for piece in pieces { received[piece.hash] = try assembly.receive(piece, now: now) }
                return received
            }
        }.get()
    }

    /// A whole, verified script.
    func script(_ hash: String) -> String? {
        assembly.withLockedValue { $0.script(hash) }
    }

    func held(_ hash: String) -> PartialScript? {
        assembly.withLockedValue { $0.held(hash) }
    }

    /// Stored by a deploy, or no longer wanted.
    func release(_ hashes: Set<String>) {
        assembly.withLockedValue { $0.release(hashes) }
    }
}
