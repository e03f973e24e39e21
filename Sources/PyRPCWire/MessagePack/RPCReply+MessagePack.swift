/// An RPC-RES written as a MessagePack frame piece by piece, as `beginResult`/`endResult`
/// write it as JSON: `{"header": "RPC-RES", "value": {"id": ..., "return-values": [...]}}`,
/// the id first so that the values, written straight from Python, come last.
///
/// What never changes (the frame's length to be filled in, the header, the keys) is kept
/// encoded: a small call's answer is mostly these bytes, and writing them key by key cost
/// more than the JSON answer's one copy of its constant text.
extension RPCReply {
    /// Writes an RPC-RES frame up to its `return-values` list, which the caller writes next,
    /// then calls `endResult(into:)`.
    public static func beginResult(id: JSONValue?, into writer: inout MessagePackWriter) {
        guard let id else {
            writer.bytes.append(contentsOf: MessagePackResult.startWithoutID)
            return
        }
        writer.bytes.append(contentsOf: MessagePackResult.startBeforeID)
        writer.value(id)
        writer.bytes.append(contentsOf: MessagePackResult.returnValuesKey)
    }

    /// Ends an RPC-RES frame begun with `beginResult(id:into:)`: its length goes in front.
    public static func endResult(into writer: inout MessagePackWriter) {
        MessagePackFrame.seal(&writer.bytes)
    }
}

/// The constant parts of an RPC-RES frame, encoded once by the writer itself.
private enum MessagePackResult {
    /// The frame's length (zero until sealed), the map of two, its header, and `value`'s key.
    static let envelope: [UInt8] = {
        var writer = MessagePackWriter(capacity: 32)
        writer.bytes.append(contentsOf: MessagePackFrame.zeroLength)
        writer.mapHeader(count: 2)
        writer.string("header")
        writer.string(Header.rpcResult)
        writer.string("value")
        return writer.bytes
    }()

    static let returnValuesKey: [UInt8] = {
        var writer = MessagePackWriter(capacity: 16)
        writer.string("return-values")
        return writer.bytes
    }()

    /// Up to the `return-values` list of a result without an id.
    static let startWithoutID: [UInt8] = {
        var writer = MessagePackWriter(capacity: 48)
        writer.bytes.append(contentsOf: envelope)
        writer.mapHeader(count: 1)
        writer.bytes.append(contentsOf: returnValuesKey)
        return writer.bytes
    }()

    /// Up to the id's value of a result with one.
    static let startBeforeID: [UInt8] = {
        var writer = MessagePackWriter(capacity: 48)
        writer.bytes.append(contentsOf: envelope)
        writer.mapHeader(count: 2)
        writer.string("id")
        return writer.bytes
    }()
}
