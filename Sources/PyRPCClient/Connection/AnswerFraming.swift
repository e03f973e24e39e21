import NIOConcurrencyHelpers
import NIOCore
import PyRPCWire

/// The encoding each server was found to speak, for this process: a client prefers
/// MessagePack, and a server that answered it in JSON is asked in JSON from then on.
enum ServerEncodings {
    private static let learned = NIOLockedValueBox<[String: WireEncoding]>([:])

    static func encoding(of server: String, preferred: WireEncoding) -> WireEncoding {
        learned.withLockedValue { $0[server] } ?? preferred
    }

    static func learn(_ server: String, speaks encoding: WireEncoding) {
        learned.withLockedValue { $0[server] = encoding }
    }
}

/// The server answered a MessagePack connection in JSON (or closed it without a word): it
/// speaks only JSON. Nothing was run, so the request goes again, in JSON, on a new connection.
struct ServerSpeaksJSON: Error, CustomStringConvertible {
    var description: String { "the server speaks only JSON" }
}

/// How a client's first MessagePack message looks to a server that speaks only JSON lines:
/// the mark 0x00, then a 4-byte length padded to 0x00000Axx, so that the fourth byte of the
/// connection is a newline. A JSON server then reads a line of three zero bytes at once and
/// answers `Bad Request` in JSON, and the client knows within a round trip, instead of the
/// server waiting for a newline until its message timeout. (pyrpc servers since MessagePack
/// came refuse such a first byte at once anyway.)
enum FirstMessage {
    static let paddedLengths = 0x0A00...0x0AFF

    /// The first frame of a MessagePack connection: `message` (a map) with a "pad" entry in
    /// its `value` that brings its length into `paddedLengths`; nil when the message is too
    /// long for that (a small message goes first then, see `probe`).
    static func padded(_ message: JSONValue) -> [UInt8]? {
        guard case .object(var envelope) = message, case .object(var value)? = envelope["value"] else { return nil }
        var padding = 0
        for _ in 0..<4 {
            value["pad"] = .string(String(repeating: "-", count: padding))
            envelope["value"] = .object(value)
            let body = MessagePackWriter.encode(.object(envelope))
            if paddedLengths.contains(body.count) { return [WireEncoding.messagePackMark] + MessagePackFrame.frame(body) }
            padding += paddedLengths.lowerBound + 64 - body.count
            guard padding >= 0 else { return nil }
        }
        return nil
    }

    /// A small LS-REQ sent first when the first real message cannot be padded; its answer is
    /// dropped.
    static var probe: [UInt8] {
        padded(.object(["header": .string(Header.listRequest), "value": .object([:])]))!
    }
}

/// Splits a connection's answers: JSON lines, or MessagePack frames. On a MessagePack
/// connection an answer that begins with `{` means the server speaks only JSON.
struct AnswerSplitter: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let encoding: WireEncoding
    private var sawAnswer = false
    private var lines = NewlineSplitter()

    init(encoding: WireEncoding) {
        self.encoding = encoding
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard encoding == .messagePack else { return try lines.decode(context: context, buffer: &buffer) }
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        if !sawAnswer, first == UInt8(ascii: "{") { throw ServerSpeaksJSON() }
        let next = buffer.withUnsafeReadableBytes { MessagePackFrame.next(in: $0, maxBytes: Int(UInt32.max)) }
        guard case .complete(let body) = next else { return .needMoreData }
        sawAnswer = true
        let frame = buffer.getSlice(at: buffer.readerIndex + body.lowerBound, length: body.count)!
        buffer.moveReaderIndex(forwardBy: body.upperBound)
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        guard encoding == .messagePack else { return try lines.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF) }
        while try decode(context: context, buffer: &buffer) == .continue {}
        // Closed before any answer: a server that does not read MessagePack.
        if !sawAnswer { throw ServerSpeaksJSON() }
        return .needMoreData
    }
}
