/// What a fast request reader (`RPCRequest.parseFast`, `parseFastMessagePack`) collects from
/// an RPC-REQ body, each key at most once: a repeated key goes to the general path, which says
/// what is wrong with it.
struct FastRequestFields {
    var service: String?, rpc: String?, client: String?, id: JSONValue?, timeout: Double?
    var argumentTypes: [String]?, returnTypes: [String]?
    /// Where the `arguments` list and the `id` value lie in the message.
    var arguments: Range<Int>?, idRange: Range<Int>?
    /// One bit per key read.
    private var seen: UInt8 = 0

    enum Key: UInt8 {
        case service = 1, rpc = 2, client = 4, arguments = 8, argumentTypes = 16, returnTypes = 32, id = 64, timeout = 128
    }

    /// Whether `key` comes for the first time; it counts as read from now on.
    mutating func first(_ key: Key) -> Bool {
        defer { seen |= key.rawValue }
        return seen & key.rawValue == 0
    }

    /// The request, and where its raw arguments lie (the caller takes them: `withArguments`);
    /// nil when a required field is missing.
    func request() -> (request: RPCRequest, arguments: Range<Int>, id: Range<Int>?)? {
        guard let service, let rpc, let argumentTypes, let returnTypes, let arguments else { return nil }
        let request = RPCRequest(
            client: client, service: service, rpc: rpc, arguments: [],
            argumentTypes: argumentTypes, returnTypes: returnTypes, id: id, timeout: timeout)
        return (request, arguments, idRange)
    }
}
