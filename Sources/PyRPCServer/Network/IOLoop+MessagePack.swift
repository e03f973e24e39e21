import NIOCore
import PyRPCWire

/// The connections that chose MessagePack (a first byte 0x00): 4-byte big-endian lengths,
/// each followed by one MessagePack map. A length over `--max-message-bytes` is refused from
/// the four bytes alone, before anything of it is buffered; and since a frame cannot be
/// skipped without reading it, the connection then closes (a JSON line over the limit is
/// skipped up to its newline instead).
extension IOLoop {
    /// Reads the connection's first byte, which chooses its encoding for good; false when it
    /// chose nothing yet (no byte) or was refused (a byte no message can begin with).
    func chooseEncoding(_ buffer: inout ByteBuffer, of connection: Connection) -> Bool {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return false }
        guard let encoding = WireEncoding.chosen(by: first) else {
            MetricsBoard.unnamed(.badRequest)
            let refusal = WireEncoding.refusal(firstByte: first)
            core.logger.warning("bad request from \(connection.peer): \(refusal)")
            refuse(connection, refusal)
            return false
        }
        if encoding == .messagePack { buffer.moveReaderIndex(forwardBy: 1) }
        connection.encoding = encoding
        return true
    }

    /// The next whole frame's body; nil when it has not all arrived, or when it is over the
    /// limit (the connection is then refused and closed).
    func nextMessagePackFrame(_ buffer: inout ByteBuffer, of connection: Connection) -> Frame? {
        let limit = core.options.maxMessageBytes
        let next = buffer.withUnsafeReadableBytes { MessagePackFrame.next(in: $0, maxBytes: limit) }
        switch next {
        case .incomplete:
            return nil
        case .oversize(let length):
            MetricsBoard.unnamed(.badRequest)
            core.logger.warning("bad request from \(connection.peer): MessagePack frame of \(length) bytes")
            refuse(connection, Self.frameTooLarge(length, limit: limit).message)
            return nil
        case .complete(let body):
            let message = buffer.getSlice(at: buffer.readerIndex + body.lowerBound, length: body.count)!
            buffer.moveReaderIndex(forwardBy: body.upperBound)
            return .message(message)
        }
    }

    /// The client half-closed a MessagePack connection: a frame it began and did not finish is
    /// a Bad Request (its answer is the connection's last).
    func endOfMessagePackInput(_ connection: Connection, rest buffer: inout ByteBuffer) {
        guard buffer.readableBytes > 0 else { return }
        let held = buffer.readableBytes
        buffer.moveReaderIndex(forwardBy: held)
        MetricsBoard.unnamed(.badRequest)
        deliver(RPCReply.exception(Self.cutFrame(held: held)), sequence: connection.nextSequence(), to: connection)
    }

    /// A frame announced over `--max-message-bytes`: refused from its length, and the end of
    /// the connection (the crash-loop desk says the same).
    static func frameTooLarge(_ length: Int, limit: Int) -> RPCError {
        .badRequest("a MessagePack frame of \(length) bytes is larger than the server's limit of \(limit) bytes (see --max-message-bytes); the connection closes, as a frame cannot be skipped unread")
    }

    /// The input ended `held` bytes into a frame.
    static func cutFrame(held: Int) -> RPCError {
        .badRequest("the connection ended inside a MessagePack frame (\(held) bytes of it came, its 4-byte length included)")
    }

    /// An answer for a MessagePack connection. Results are written as MessagePack from the
    /// start (`CallInFlight`); everything else (exceptions, listings, statistics, deploys) is
    /// made as JSON and comes here to be rewritten. A JSON answer starts with `{`; a frame starts
    /// with its length, whose first byte is 0x7B only past 2 GB, far over any limit.
    static func messagePack(_ reply: [UInt8]) -> [UInt8] {
        guard reply.first == UInt8(ascii: "{") else { return reply }
        guard let message = try? JSONParser.parse(reply) else {
            let failure = JSONValue.object([
                "header": .string(Header.rpcException),
                "value": .object(["exception-type": .string("Bad Request"), "exception-message": .string("the server's answer could not be written as MessagePack")]),
            ])
            return MessagePackFrame.frame(MessagePackWriter.encode(failure))
        }
        return MessagePackFrame.frame(MessagePackWriter.encode(message))
    }
}
