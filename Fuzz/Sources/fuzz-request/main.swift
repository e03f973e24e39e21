import FuzzSupport
@testable import PyRPCWire

/// Reading a request message, three ways that must agree: the general parser
/// (JSONParser + Envelope + RPCRequest, arguments kept as text), the fast path
/// (`parseFast`), and a connection's remembered request read by difference
/// (`RequestTemplate`, learned from a valid request of the same family).
///
/// Whatever the fast path or the template accepts, the general path accepts with an equal
/// request; whatever the general path refuses, neither of the others accepts.

/// The general path, as `ServerCore.answer` runs it for an RPC-REQ.
func general(_ bytes: UnsafeRawBufferPointer) -> RPCRequest? {
    guard let (value, captured) = try? JSONParser.parse(bytes, capturing: "arguments"),
          let envelope = try? Envelope(message: value), envelope.header == Header.rpcRequest
    else { return nil }
    return try? RPCRequest(body: envelope.value, rawArguments: captured.map { ArgumentBytes(Array(bytes[$0])) })
}

/// Templates learned from a few valid requests of different shapes.
let templates: [RequestTemplate] = [
    #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[2,3],"argument-types":["int","int"],"return-types":["int"],"id":7}}"#,
    #"{"header": "RPC-REQ", "value": {"service": "s", "rpc": "r", "arguments": [], "argument-types": [], "return-types": ["str"]}}"#,
    #"{"header":"RPC-REQ","value":{"client":"c1","service":"stats","rpc":"total","arguments":[[1.5,2]],"argument-types":["List[float]"],"return-types":["float"],"id":"x","timeout":2}}"#,
].compactMap { text in
    var text = text
    return text.withUTF8 { RequestTemplate.read(UnsafeRawBufferPointer($0))?.template }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let reference = general(bytes)

    if let fast = RPCRequest.parseFast(bytes) {
        guard let reference else { mismatch("parseFast accepted what the general path refuses", input: bytes) }
        guard fast == reference, fast.rawArguments == reference.rawArguments else {
            mismatch("parseFast read \(fast), the general path \(reference)", input: bytes)
        }
    }
    if let (read, _) = RequestTemplate.read(bytes) {
        guard let reference, read == reference, read.rawArguments == reference.rawArguments else {
            mismatch("RequestTemplate.read read \(read), the general path \(String(describing: reference))", input: bytes)
        }
    }
    for template in templates {
        guard let match = template.match(bytes) else { continue }
        let read = template.request(for: match, in: bytes)
        guard let reference, read == reference, read.rawArguments == reference.rawArguments else {
            mismatch("a template matched \(read), the general path \(String(describing: reference))", input: bytes)
        }
    }
    // The arguments text the paths kept is judged the same way later: valid JSON or not.
    if let raw = reference?.rawArguments {
        _ = JSONParser.invalidity(of: raw)
    }
    return 0
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_request_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzRequest)
}
