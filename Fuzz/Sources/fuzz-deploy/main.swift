import FuzzSupport
@testable import PyRPCWire

/// The deploy messages (DEPLOY-MANIFEST / DEPLOY-PIECES / DEPLOY-SCRIPTS) as the server reads
/// them: the envelope, the manifest, the python environment, the scripts map and the pieces,
/// which go into a script assembly as the server's would. A manifest that reads must write and
/// read back equal (what the state store relies on). And any input, taken as a script's text,
/// must travel in pieces: planned under a budget the input picks, every message within it,
/// read back equal, and put together into the same text (`planRoundTrip`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeploy(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    planRoundTrip(bytes)
    guard let message = try? JSONParser.parse(bytes), let envelope = try? Envelope(message: message) else { return 0 }
    if let pieces = try? DeployPieces(envelope) { assemble(pieces.pieces, input: bytes) }
    _ = envelope.value["token"]?.stringValue
    if case .object(let scripts)? = envelope.value["scripts"] {
        for (hash, text) in scripts {
            if case .string(let body) = text { _ = ScriptHash.sha256(body) == hash }
        }
    }
    guard let json = envelope.value["manifest"], let manifest = try? ServerManifest(json: json) else { return 0 }
    _ = manifest.scriptHashes
    // Written as the state store writes it, and read back.
    var writer = JSONWriter(capacity: 256)
    writer.value(manifest.json)
    guard let reread = try? JSONParser.parse(writer.bytes), let again = try? ServerManifest(json: reread) else {
        mismatch("a manifest that read does not read back: \(String(decoding: writer.bytes, as: UTF8.self))", input: bytes)
    }
    guard again == manifest else { mismatch("a manifest read back different: \(manifest) vs \(again)", input: bytes) }
    return 0
}

/// Pieces a peer sent, into an assembly like the server's: whatever they hold, nothing is
/// whole that does not hash to its name, and the limit holds.
func assemble(_ pieces: [ScriptPiece], input: UnsafeRawBufferPointer) {
    var assembly = ScriptAssembly(limit: 4096)
    for piece in pieces {
        guard let held = try? assembly.receive(piece, now: .now) else { continue }
        if let text = assembly.script(piece.hash) {
            guard ScriptHash.sha256(text) == piece.hash, held == piece.size else { mismatch("a script whole under another hash", input: input) }
        } else if let partial = assembly.held(piece.hash), partial.bytes != held || held >= piece.size {
            mismatch("a partial script reports \(partial.bytes) bytes, received \(held) of \(piece.size)", input: input)
        }
        guard assembly.heldBytes <= assembly.limit else { mismatch("the assembly holds more than its limit", input: input) }
    }
}

/// The input as a script's text, planned into DEPLOY-PIECES under a budget its first byte
/// picks: each message fits, reads back equal, and the pieces put the text together again.
func planRoundTrip(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    let hash = ScriptHash.sha256(text)
    let budget = DeployPlan.smallestBudget + Int(bytes.first ?? 0) * 61
    let from = bytes.count > 1 ? Int(bytes[1]) * 3 % (text.utf8.count + 1) : 0
    let utf8 = Array(text.utf8)
    // A resumed plan starts on a character boundary (`Deployer.resumePoint`).
    guard from == utf8.count || from == 0 || utf8[from] & 0xC0 != 0x80 else { return }
    guard let plan = try? DeployPlan([DeployPlan.Script(hash: hash, text: text, from: from)], server: "s1", token: "t", budget: budget) else {
        mismatch("no plan for a \(utf8.count)-byte script under \(budget) bytes", input: bytes)
    }
    var assembly = ScriptAssembly(limit: 1 << 20)
    if from > 0 {
        _ = try? assembly.receive(ScriptPiece(hash: hash, size: utf8.count, offset: 0, text: String(decoding: utf8[..<from], as: UTF8.self)), now: .now)
    }
    for message in plan.messages {
        let encoded = message.envelope.encoded()
        guard encoded.count <= budget else { mismatch("a planned message of \(encoded.count) bytes passes its budget \(budget)", input: bytes) }
        guard let parsed = try? JSONParser.parse(Array(encoded.dropLast())), let envelope = try? Envelope(message: parsed),
            let read = try? DeployPieces(envelope), read == message
        else { mismatch("a planned message does not read back equal", input: bytes) }
        for piece in read.pieces {
            do {
                _ = try assembly.receive(piece, now: .now)
            } catch {
                mismatch("a planned piece was refused: \(error)", input: bytes)
            }
        }
    }
    guard assembly.script(hash) == text else { mismatch("the planned pieces do not put the script together again", input: bytes) }
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_deploy_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzDeploy)
}
