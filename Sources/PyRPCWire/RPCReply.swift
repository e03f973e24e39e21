/// Encoding and decoding of the two answers to an RPC-REQ: RPC-RES and RPC-EX.
public enum RPCReply {
    /// `{"header":"RPC-RES","value":{"return-values":[...],"id":...}}` plus newline.
    public static func result(_ values: [JSONValue], id: JSONValue?) -> [UInt8] {
        var writer = JSONWriter(capacity: 64)
        writeResult(values, id: id, into: &writer)
        return writer.bytes
    }

    public static func writeResult(_ values: [JSONValue], id: JSONValue?, into writer: inout JSONWriter) {
        writer.raw("{\"header\":\"RPC-RES\",\"value\":{\"return-values\":")
        writer.value(.array(values))
        if let id {
            writer.raw(",\"id\":")
            writer.value(id)
        }
        writer.raw("}}\n")
    }

    /// An RPC-RES whose `return-values` list is already JSON text (written straight from Python).
    public static func result(encodedValues: [UInt8], id: JSONValue?) -> [UInt8] {
        var writer = JSONWriter(capacity: encodedValues.count + 64)
        writer.raw("{\"header\":\"RPC-RES\",\"value\":{\"return-values\":")
        writer.bytes.append(contentsOf: encodedValues)
        if let id {
            writer.raw(",\"id\":")
            writer.value(id)
        }
        writer.raw("}}\n")
        return writer.bytes
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
