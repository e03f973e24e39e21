/// Encoding and decoding of the two answers to an RPC-REQ: RPC-RES and RPC-EX.
public enum RPCReply {
    /// `{"header":"RPC-RES","value":{"return-values":[...],"id":...}}` plus newline.
    public static func result(_ values: [JSONValue], id: JSONValue?) -> [UInt8] {
        var writer = JSONWriter(capacity: 64)
        writeResult(values, id: id, into: &writer)
        return writer.bytes
    }

    public static func writeResult(_ values: [JSONValue], id: JSONValue?, into writer: inout JSONWriter) {
        beginResult(into: &writer)
        writer.value(.array(values))
        endResult(id: id, into: &writer)
    }

    /// Writes an RPC-RES up to its `return-values` list, which the caller writes next (the
    /// server writes it straight from Python objects), then calls `endResult`.
    public static func beginResult(into writer: inout JSONWriter) {
        writer.raw("{\"header\":\"RPC-RES\",\"value\":{\"return-values\":")
    }

    /// Ends an RPC-RES begun with `beginResult` once its `return-values` list is written.
    public static func endResult(id: JSONValue?, into writer: inout JSONWriter) {
        if let id {
            writer.raw(",\"id\":")
            writer.value(id)
        }
        writer.raw("}}\n")
    }

    /// `{"header":"RPC-EX","value":{"exception-type":...,"exception-message":...,"id":...}}` plus newline.
    public static func exception(_ error: RPCError) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.raw("{\"header\":\"RPC-EX\",\"value\":{\"exception-type\":")
        writer.string(error.type.rawValue)
        writer.raw(",\"exception-message\":")
        writer.string(error.message)
        if let id = error.id {
            writer.raw(",\"id\":")
            writer.value(id)
        }
        writer.raw("}}\n")
        return writer.bytes
    }

    /// Reads an answer: the return values of an RPC-RES, or the RPC-EX as a thrown `RPCError`.
    public static func decode(_ envelope: Envelope) throws(RPCError) -> [JSONValue] {
        switch envelope.header {
        case Header.rpcResult:
            guard case .array(let values)? = envelope.value["return-values"] else {
                throw .badRequest("RPC-RES without a 'return-values' list")
            }
            return values
        case Header.rpcException:
            let type = envelope.value["exception-type"]?.stringValue ?? "Unknown"
            let message = envelope.value["exception-message"]?.stringValue ?? ""
            throw RPCError(ExceptionType(rawValue: type), message, id: envelope.value["id"])
        default:
            throw .badRequest("expected RPC-RES or RPC-EX, got \(envelope.header)")
        }
    }
}
