#if canImport(Glibc)
import Glibc
#endif

extension RPCRequest {
    /// Reads an RPC-REQ message of the usual shape straight into a request, without the
    /// value tree (two dictionaries and a value per field) that `JSONParser` builds: that
    /// tree was half of the event loop's own work on a small call.
    ///
    /// It accepts only what the general path (`JSONParser.parse(_:capturing:)`, `Envelope`,
    /// `init(body:rawArguments:)`) accepts and reads it the same way, keeping the `arguments`
    /// list as raw text. For anything else — another header, the `type` alias, unknown or
    /// repeated keys, a field of the wrong kind, malformed JSON — it returns nil and the
    /// general path decides, with its messages.
    public static func parseFast(_ bytes: UnsafeRawBufferPointer) -> RPCRequest? {
        parseFastShape(bytes).map { $0.request.withArguments(bytes[$0.arguments], keeper: nil) }
    }

    /// The request with its raw arguments, `bytes` (see `ArgumentBytes` for `keeper`).
    func withArguments(_ bytes: UnsafeRawBufferPointer.SubSequence, keeper: (AnyObject & Sendable)?) -> RPCRequest {
        var request = self
        request.rawArguments = ArgumentBytes(UnsafeRawBufferPointer(rebasing: bytes), keeper: keeper)
        return request
    }

    /// `parseFast`, and where the `arguments` and `id` values lie in `bytes`.
    static func parseFastShape(_ bytes: UnsafeRawBufferPointer) -> (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)? {
        var scanner = JSONScanner(bytes: bytes)
        var header: String?
        var request: (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)?
        guard (try? scanner.readObject({ (scanner: inout JSONScanner, key: UnsafeRawBufferPointer) throws(JSONParseError) -> Bool in
            if key.is("header") {
                guard header == nil else { return false }
                header = try scanner.plainString()
                return header == Header.rpcRequest
            }
            if key.is("value") {
                guard request == nil, scanner.current == UInt8(ascii: "{") else { return false }
                request = try readBody(&scanner, bytes)
                return request != nil
            }
            return false
        })) == true, header != nil, request != nil else { return nil }
        scanner.skipWhitespace()
        // Returned straight from the optional: binding it first copied all nine fields.
        return scanner.index == bytes.count ? request : nil
    }

    private static func readBody(_ scanner: inout JSONScanner, _ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)? {
        var fields = FastRequestFields()
        let complete = try scanner.readObject { (scanner: inout JSONScanner, key: UnsafeRawBufferPointer) throws(JSONParseError) -> Bool in
            if key.is("service") {
                guard fields.first(.service) else { return false }
                fields.service = try scanner.plainString()
                return fields.service != nil
            }
            if key.is("rpc") {
                guard fields.first(.rpc) else { return false }
                fields.rpc = try scanner.plainString()
                return fields.rpc != nil
            }
            if key.is("client") {
                guard fields.first(.client) else { return false }
                if scanner.current == UInt8(ascii: "n") { try scanner.expectKeyword("null"); return true }
                fields.client = try scanner.plainString()
                return fields.client != nil
            }
            if key.is("arguments") {
                guard fields.first(.arguments), scanner.current == UInt8(ascii: "[") else { return false }
                let start = scanner.index
                try scanner.skipValue(depth: 2)
                fields.arguments = start..<scanner.index
                return true
            }
            if key.is("argument-types") {
                guard fields.first(.argumentTypes) else { return false }
                fields.argumentTypes = try scanner.stringList()
                return fields.argumentTypes != nil
            }
            if key.is("return-types") {
                guard fields.first(.returnTypes) else { return false }
                fields.returnTypes = try scanner.stringList()
                return fields.returnTypes != nil
            }
            if key.is("id") {
                guard fields.first(.id) else { return false }
                let start = scanner.index
                let value = try scanner.parseValue(depth: 2)
                fields.idRange = start..<scanner.index
                guard value.isRequestID else { return false }
                fields.id = value
                return true
            }
            if key.is("timeout") {
                guard fields.first(.timeout) else { return false }
                switch try scanner.parseValue(depth: 2) {
                case .null: return true
                case let value:
                    guard let seconds = value.numberValue, seconds > 0, seconds.isFinite else { return false }
                    fields.timeout = seconds
                    return true
                }
            }
            return false
        }
        return complete ? fields.request() : nil
    }
}

extension JSONScanner {
    /// Reads an object at the scanner, handing each key's bytes to `member` with the scanner
    /// at its value; `member` reads the value and returns false to give up. True when the
    /// whole object was read. Keys are not made into Strings (14 per request cost 0.4 µs);
    /// a key with an escape gives up, for the general path to read.
    @inline(__always) mutating func readObject(_ member: (inout JSONScanner, UnsafeRawBufferPointer) throws(JSONParseError) -> Bool) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { return false }
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return true
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\""), let key = plainKey() else { return false }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { return false }
            index += 1
            skipWhitespace()
            guard try member(&self, key) else { return false }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return true
            default: return false
            }
        }
    }

    /// The bytes of the key at the scanner (at its opening quote) and the scanner past it;
    /// nil when the key holds an escape or a control character.
    @inline(__always) mutating func plainKey() -> UnsafeRawBufferPointer? {
        let start = index + 1
        let end = ByteScan.firstStringSpecial(in: bytes, from: start)
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else { return nil }
        index = end + 1
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// A string value, or nil (scanner unmoved) when the value is not a string.
    mutating func plainString() throws(JSONParseError) -> String? {
        guard current == UInt8(ascii: "\"") else { return nil }
        return try parseString(quote: UInt8(ascii: "\""))
    }

    /// A list of strings, or nil when the value is not one.
    mutating func stringList() throws(JSONParseError) -> [String]? {
        guard current == UInt8(ascii: "[") else { return nil }
        index += 1
        var strings: [String] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return strings
        }
        while true {
            skipWhitespace()
            guard let string = try plainString() else { return nil }
            strings.append(string)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return strings
            default: return nil
            }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes are exactly `literal`'s UTF-8.
    @inline(__always) func `is`(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, literal.utf8Start, count) == 0)
    }
}
