import FuzzSupport
import PyRPCWire

/// The MessagePack codec on any bytes: a refusal or a value, never a crash, and the value is
/// the same whichever way it travels.
///
/// - Re-encoding a decoded value and decoding that gives an equal value, float bits and all
///   (NaN too), and encoding is deterministic: the second encoding is byte-identical to the first.
/// - A value JSON can carry (no NaN or infinity) written by `JSONWriter` and parsed back by
///   `JSONParser` is the same value: the two encodings of one message never disagree, so an
///   envelope that `Envelope` accepts has the same header and value either way.
/// - `Envelope(messagePack:)` accepts exactly what decodes to a map `Envelope` accepts, and
///   an envelope written as MessagePack reads back the same.
/// - The frame reader read over the same bytes as a stream keeps its bounds and its limit.
/// - The server's reader without a value tree (`parseFastMessagePack`, `skipValue`, the
///   request template) reads exactly what the general path reads, or steps aside.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessagePack(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    checkFrames(input)
    checkSkip(input)
    checkFastRequest(input)
    let decoded: JSONValue
    do {
        decoded = try MessagePackReader.decode(input)
    } catch {
        guard error.offset >= 0, error.offset <= input.count else {
            mismatch("an error offset \(error.offset) outside the \(input.count) bytes: \(error)", input: input)
        }
        if let envelope = try? Envelope(messagePack: input) {
            mismatch("Envelope(messagePack:) accepted \(envelope.header) from bytes that do not decode (\(error))", input: input)
        }
        return 0
    }

    let encoded = MessagePackWriter.encode(decoded)
    guard let again = try? MessagePackReader.decode(encoded) else {
        mismatch("the encoding of \(decoded) does not decode", input: input)
    }
    guard same(again, decoded) else { mismatch("\(decoded) came back as \(again)", input: input) }
    let second = MessagePackWriter.encode(again)
    guard second == encoded else { mismatch("\(decoded) encodes two ways: \(encoded) and \(second)", input: input) }

    if isFinite(decoded) {
        var writer = JSONWriter()
        writer.value(decoded)
        guard let parsed = try? JSONParser.parse(writer.bytes) else {
            mismatch("the JSON text of \(decoded) does not parse: \(String(decoding: writer.bytes, as: UTF8.self))", input: input)
        }
        guard same(parsed, decoded, bitExact: false) else { mismatch("through JSON \(decoded) became \(parsed)", input: input) }
    }

    let fromValue = try? Envelope(message: decoded)
    let fromBytes = try? Envelope(messagePack: input)
    switch (fromValue, fromBytes) {
    case (nil, nil):
        break
    case (let fromValue?, let fromBytes?):
        guard fromValue.header == fromBytes.header, same(.object(fromValue.value), .object(fromBytes.value)) else {
            mismatch("Envelope(messagePack:) read \(fromBytes), Envelope(message:) \(fromValue)", input: input)
        }
        guard let back = try? Envelope(messagePack: fromValue.messagePackEncoded()),
              back.header == fromValue.header, same(.object(back.value), .object(fromValue.value))
        else {
            mismatch("the envelope \(fromValue) does not read back from its own MessagePack", input: input)
        }
        if fromBytes.header == Header.rpcRequest, isFinite(decoded) { compareRequests(fromBytes, decoded, input: input) }
    default:
        mismatch("Envelope(messagePack:) and Envelope(message:) disagree: \(String(describing: fromBytes)) against \(String(describing: fromValue))", input: input)
    }
    return 0
}

/// The request reader's differential oracle: an RPC-REQ read from MessagePack (as the server
/// reads a MessagePack connection's) and the same envelope written as JSON text and read as the
/// server reads a JSON line (the arguments captured as text) give the same request, or the
/// same Bad Request.
private func compareRequests(_ envelope: Envelope, _ decoded: JSONValue, input: UnsafeRawBufferPointer) {
    let fromMessagePack = Result { () throws(RPCError) -> RPCRequest in try RPCRequest(body: envelope.value) }
    var writer = JSONWriter()
    writer.value(decoded)
    let fromJSON = writer.bytes.withUnsafeBytes { bytes in
        Result { () throws -> RPCRequest in
            let (message, captured) = try JSONParser.parse(bytes, capturing: "arguments")
            return try RPCRequest(body: Envelope(message: message).value, rawArguments: captured.map { ArgumentBytes(Array(bytes[$0])) })
        }
    }
    switch (fromMessagePack, fromJSON) {
    case (.success(let packed), .success(let text)):
        let arguments = text.rawArguments.flatMap { try? JSONParser.parse($0.array) }
        guard packed.service == text.service, packed.rpc == text.rpc, packed.client == text.client,
              packed.argumentTypes == text.argumentTypes, packed.returnTypes == text.returnTypes,
              packed.id.map({ same($0, text.id ?? .null, bitExact: false) }) ?? (text.id == nil), packed.timeout == text.timeout,
              same(.array(packed.arguments), arguments ?? .array(text.arguments), bitExact: false)
        else { mismatch("the request reads as \(packed) from MessagePack and \(text) from JSON", input: input) }
    case (.failure(let packed), .failure(let text)):
        guard let text = text as? RPCError, packed.message == text.message else {
            mismatch("the request is refused as \(packed) from MessagePack and \(text) from JSON", input: input)
        }
    default:
        mismatch("the request reads as \(fromMessagePack) from MessagePack and \(fromJSON) from JSON", input: input)
    }
}

/// `skipValue` steps over exactly what `readValue` reads, when that holds no map, and
/// refuses everything else.
private func checkSkip(_ input: UnsafeRawBufferPointer) {
    var reader = MessagePackScanner(bytes: input)
    var skipper = MessagePackScanner(bytes: input)
    let read = try? reader.readValue(depth: 0)
    let skipped = skipper.skipValue(depth: 0)
    if let read, !holdsObject(read) {
        guard skipped, skipper.index == reader.index else {
            mismatch("readValue read \(read) to byte \(reader.index); skipValue said \(skipped) at \(skipper.index)", input: input)
        }
    } else if skipped {
        mismatch("skipValue stepped over what readValue \(read == nil ? "refuses" : "reads with a map")", input: input)
    }
}

/// A request the fast reader reads is the general path's request, its raw arguments decoding
/// to the general path's values; and its template reads the same bytes by difference alike.
private func checkFastRequest(_ input: UnsafeRawBufferPointer) {
    guard let (fast, template) = RequestTemplate.read(input, encoding: .messagePack) else { return }
    guard let envelope = try? Envelope(messagePack: input), envelope.header == Header.rpcRequest,
          let general = try? RPCRequest(body: envelope.value) else {
        mismatch("the fast reader read \(fast) from what the general path refuses", input: input)
    }
    guard let raw = fast.rawArguments?.array, case .array(let values)? = try? MessagePackReader.decode(raw) else {
        mismatch("the fast reader kept arguments that do not decode to a list", input: input)
    }
    var unpacked = fast
    unpacked.rawArguments = nil
    unpacked.arguments = values
    guard unpacked.service == general.service, unpacked.rpc == general.rpc, unpacked.client == general.client,
          unpacked.argumentTypes == general.argumentTypes, unpacked.returnTypes == general.returnTypes,
          same(unpacked.id ?? .null, general.id ?? .null), (unpacked.id == nil) == (general.id == nil), unpacked.timeout == general.timeout,
          same(.array(unpacked.arguments), .array(general.arguments))
    else { mismatch("the fast reader read \(unpacked), the general path \(general)", input: input) }
    if let template {
        guard let match = template.match(input, encoding: .messagePack), template.request(for: match, in: input) == fast else {
            mismatch("the template of \(fast) does not read its own bytes alike", input: input)
        }
    }
}

private func holdsObject(_ value: JSONValue) -> Bool {
    switch value {
    case .object: return true
    case .array(let items): return items.contains(where: holdsObject)
    default: return false
    }
}

/// The input as a stream of frames, under a few limits: every verdict stays inside the
/// buffer and agrees with the 4-byte header.
private func checkFrames(_ input: UnsafeRawBufferPointer) {
    for limit in [0, 16, 1 << 20] {
        var start = 0
        while true {
            switch MessagePackFrame.next(in: input, from: start, maxBytes: limit) {
            case .complete(let body):
                guard body.lowerBound == start + MessagePackFrame.headerSize, body.upperBound <= input.count,
                      body.count <= limit, body.count == headerLength(input, at: start)
                else { mismatch("frame at \(start) read as \(body) under limit \(limit)", input: input) }
                start = body.upperBound
                continue
            case .incomplete:
                if input.count - start >= MessagePackFrame.headerSize {
                    let length = headerLength(input, at: start)
                    guard length <= limit, input.count - start - MessagePackFrame.headerSize < length else {
                        mismatch("frame at \(start) of \(length) bytes called incomplete under limit \(limit)", input: input)
                    }
                }
            case .oversize(let length):
                guard input.count - start >= MessagePackFrame.headerSize, length == headerLength(input, at: start), length > limit else {
                    mismatch("frame at \(start) called oversize (\(length)) under limit \(limit)", input: input)
                }
            }
            break
        }
    }
}

private func headerLength(_ input: UnsafeRawBufferPointer, at start: Int) -> Int {
    (0..<4).reduce(0) { $0 << 8 | Int(input[start + $1]) }
}

/// Equality with NaN equal to NaN; `bitExact`, floats must have the same bits (MessagePack
/// carries every bit of a float64, JSON text only its value).
private func same(_ a: JSONValue, _ b: JSONValue, bitExact: Bool = true) -> Bool {
    switch (a, b) {
    case (.float(let x), .float(let y)): return bitExact ? x.bitPattern == y.bitPattern : x == y || (x.isNaN && y.isNaN)
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1, bitExact: bitExact) }
    case (.object(let x), .object(let y)):
        return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0, bitExact: bitExact) } ?? false }
    default: return a == b
    }
}

/// No NaN or infinity anywhere: JSON can carry the value.
private func isFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .float(let x): return x.isFinite
    case .array(let elements): return elements.allSatisfy(isFinite)
    case .object(let members): return members.values.allSatisfy(isFinite)
    default: return true
    }
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_msgpack_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzMessagePack)
}
