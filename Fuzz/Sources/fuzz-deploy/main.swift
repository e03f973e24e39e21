import FuzzSupport
@testable import PyRPCWire

/// The deploy messages (DEPLOY-MANIFEST / DEPLOY-SCRIPTS) as the server reads them: the
/// envelope, the manifest, the python environment and the scripts map. A manifest that reads
/// must write and read back equal (what the state store relies on).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeploy(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let message = try? JSONParser.parse(bytes), let envelope = try? Envelope(message: message) else { return 0 }
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

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_deploy_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzDeploy)
}
