import FuzzSupport
@testable import PyRPCConfig

/// init.yaml loading (libyaml, then our readers): any bytes load or fail with an error whose
/// position is inside the file. Nothing here touches the file system (scripts are not opened).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    do {
        let config = try ConfigLoader.parse(bytes: Array(bytes), file: "init.yaml", baseDirectory: "/base")
        for server in config.servers { _ = config.services(providedBy: server.name) }
        _ = config.allRPCs.map(\.signature)
    } catch {
        // YAML breaks lines at \n, \r and \r\n (and NEL, LS, PS): count every candidate.
        let lines = bytes.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") || $1 == UInt8(ascii: "\r") || $1 == 0x85 || $1 == 0xA8 || $1 == 0xA9 ? 1 : 0) }
        guard error.line >= 0, error.line <= lines + 1, error.column >= 0 else {
            mismatch("error at \(error.line):\(error.column) outside a \(lines)-line file: \(error)", input: bytes)
        }
    }
    return 0
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_config_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzConfig)
}
