import FuzzSupport
import PyRPCWire

/// The operations port's request-head reader: any bytes give a head, "read more" or a 400,
/// never a crash, and the verdicts agree with each other: a head is the same whatever follows
/// it, every shorter prefix of it only asks for more, and bytes judged invalid stay invalid
/// whatever is added.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    let bytes = Array(input)
    let outcome = parse(bytes)
    switch outcome {
    case .complete(let head, let length):
        guard length <= bytes.count, length > 0, bytes[length - 1] == UInt8(ascii: "\n") else {
            mismatch("a head of \(length) bytes that does not end a line", input: input)
        }
        guard head.path.hasPrefix("/"), head.version == "HTTP/1.1" || head.version == "HTTP/1.0",
              !head.method.isEmpty, head.method.utf8.allSatisfy({ (65...90).contains($0) }) else {
            mismatch("a head with an impossible request line: \(head)", input: input)
        }
        guard parse(Array(bytes[..<length])) == outcome, parse(Array(bytes[..<length]) + Array("junk\r\n".utf8)) == outcome else {
            mismatch("the head changes with what follows it", input: input)
        }
        for cut in [length - 1, length / 2, 1] where cut > 0 && cut < length {
            guard parse(Array(bytes[..<cut])) == .incomplete else {
                mismatch("a \(cut)-byte prefix of a \(length)-byte head is \(parse(Array(bytes[..<cut])))", input: input)
            }
        }
    case .invalid:
        guard case .invalid = parse(bytes + Array(" x\r\n\r\n".utf8)) else {
            mismatch("invalid bytes became valid with more added", input: input)
        }
    case .incomplete:
        break
    }
    return 0
}

private func parse(_ bytes: [UInt8]) -> HTTPRequestHead.Outcome {
    bytes.withUnsafeBytes { HTTPRequestHead.parse($0) }
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_http_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzHTTP)
}
