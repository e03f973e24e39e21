extension RPCRequest {
    /// Reads a MessagePack connection's RPC-REQ of the usual shape straight into a request, as
    /// `parseFast` reads a JSON one: no value tree, no dictionaries, and the `arguments` list
    /// kept as its MessagePack bytes (`rawArguments`), checked here as `MessagePackReader`
    /// would check them and read into Python objects when the call runs.
    ///
    /// It accepts only what the general path (`Envelope(messagePack:)`, `init(body:)`) accepts
    /// and reads it the same way. For anything else — another header, the `type` alias,
    /// unknown or repeated keys, a field of the wrong kind, a map among the arguments, invalid
    /// MessagePack — it returns nil and the general path decides, with its messages.
    public static func parseFastMessagePack(_ bytes: UnsafeRawBufferPointer) -> RPCRequest? {
        parseFastMessagePackShape(bytes).map { $0.request.withArguments(bytes[$0.arguments], keeper: nil) }
    }

    /// `parseFastMessagePack`, and where the `arguments` and `id` values lie in `bytes`.
    static func parseFastMessagePackShape(_ bytes: UnsafeRawBufferPointer) -> (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)? {
        var scanner = MessagePackScanner(bytes: bytes)
        guard let entries = scanner.mapHeader(), entries == 2 else { return nil }
        var header = false
        var body: (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)?
        for _ in 0..<entries {
            guard let key = scanner.stringBytes() else { return nil }
            if key.is("header") {
                guard !header, let text = scanner.stringBytes(), text.is("RPC-REQ") else { return nil }
                header = true
            } else if key.is("value") {
                guard body == nil, let read = readBody(&scanner) else { return nil }
                body = read
            } else {
                return nil
            }
        }
        guard header, scanner.index == bytes.count else { return nil }
        return body
    }

    private static func readBody(_ scanner: inout MessagePackScanner) -> (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)? {
        guard let entries = scanner.mapHeader() else { return nil }
        var fields = FastRequestFields()
        // The body map is the message's second level: its values are read at depth 2, as
        // `MessagePackReader` reads them.
        for _ in 0..<entries {
            guard let key = scanner.stringBytes() else { return nil }
            if key.is("service") {
                guard fields.first(.service), let text = scanner.string() else { return nil }
                fields.service = text
            } else if key.is("rpc") {
                guard fields.first(.rpc), let text = scanner.string() else { return nil }
                fields.rpc = text
            } else if key.is("client") {
                guard fields.first(.client) else { return nil }
                if scanner.tag == 0xC0 {
                    scanner.index += 1
                } else {
                    guard let text = scanner.string() else { return nil }
                    fields.client = text
                }
            } else if key.is("arguments") {
                let start = scanner.index
                guard fields.first(.arguments), scanner.skipList(depth: 2) else { return nil }
                fields.arguments = start..<scanner.index
            } else if key.is("argument-types") {
                guard fields.first(.argumentTypes), let names = stringList(&scanner) else { return nil }
                fields.argumentTypes = names
            } else if key.is("return-types") {
                guard fields.first(.returnTypes), let names = stringList(&scanner) else { return nil }
                fields.returnTypes = names
            } else if key.is("id") {
                let start = scanner.index
                guard fields.first(.id), let value = try? scanner.readValue(depth: 2), value.isRequestID else { return nil }
                fields.id = value
                fields.idRange = start..<scanner.index
            } else if key.is("timeout") {
                guard fields.first(.timeout), let value = try? scanner.readValue(depth: 2) else { return nil }
                if value != .null {
                    guard let seconds = value.positiveSecondsValue else { return nil }
                    fields.timeout = seconds
                }
            } else {
                return nil
            }
        }
        return fields.request()
    }

    /// A list of strs, or nil when the value is not one.
    private static func stringList(_ scanner: inout MessagePackScanner) -> [String]? {
        guard let count = scanner.arrayHeader(), count <= scanner.bytes.count - scanner.index else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(count)
        for _ in 0..<count {
            guard let string = scanner.string() else { return nil }
            strings.append(string)
        }
        return strings
    }
}
