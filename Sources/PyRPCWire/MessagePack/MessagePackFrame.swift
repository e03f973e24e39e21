/// MessagePack messages on a stream: a 4-byte big-endian body length N, then N bytes holding
/// exactly one MessagePack map, the envelope.
///
/// The length comes first so that a message over the limit is known from its first four
/// bytes and never buffered; a reader needs nothing from the body to find where it ends.
///
/// ```swift
/// switch MessagePackFrame.next(in: received, maxBytes: limit) {   // received: UnsafeRawBufferPointer
/// case .complete(let body):
///     let envelope = try Envelope(messagePack: UnsafeRawBufferPointer(rebasing: received[body]))
/// case .incomplete: break                       // read more
/// case .oversize(let length): refuse(length)    // known before the body arrives
/// }
/// ```
public enum MessagePackFrame {
    /// The length prefix: 4 bytes, big-endian, the body's size without the prefix itself.
    public static let headerSize = 4

    /// What the bytes at the front of a buffer hold.
    public enum Next: Equatable, Sendable {
        /// A whole message: its body's range in the buffer; the next frame starts at its end.
        case complete(body: Range<Int>)
        /// Not yet a whole frame (the header or part of the body is missing): read more.
        case incomplete
        /// The header announces a body of `length` bytes, more than the limit allows.
        case oversize(length: Int)
    }

    /// `body` with its length in front.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        var framed: [UInt8] = []
        framed.reserveCapacity(headerSize + body.count)
        withUnsafeBytes(of: length(of: body.count).bigEndian) { framed.append(contentsOf: $0) }
        framed.append(contentsOf: body)
        return framed
    }

    /// A frame whose body `write` produces, written in place (no second copy of the body):
    /// an answer written piece by piece, straight onto the wire's bytes.
    public static func frame(writing write: (inout MessagePackWriter) -> Void) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.bytes.append(contentsOf: zeroLength)
        write(&writer)
        seal(&writer.bytes)
        return writer.bytes
    }

    /// The 4-byte length of a frame begun in place, until `seal` writes it.
    private static let zeroLength: [UInt8] = [0, 0, 0, 0]

    /// Writes the length of the frame that fills `bytes` into its first four bytes, which
    /// were left for it when the frame was begun (here, or from `RPCReply.beginResult(id:into:)`'s
    /// constant bytes).
    public static func seal(_ bytes: inout [UInt8]) {
        let size = length(of: bytes.count - headerSize).bigEndian
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: size, toByteOffset: 0, as: UInt32.self) }
    }

    /// The frame at `start` in `buffer`: complete, incomplete, or over `maxBytes` (a limit on
    /// the body, judged from the header alone).
    public static func next(in buffer: UnsafeRawBufferPointer, from start: Int = 0, maxBytes: Int) -> Next {
        guard buffer.count - start >= headerSize else { return .incomplete }
        let length = Int(UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
        guard length <= maxBytes else { return .oversize(length: length) }
        let bodyStart = start + headerSize
        guard buffer.count - bodyStart >= length else { return .incomplete }
        return .complete(body: bodyStart..<bodyStart + length)
    }

    public static func next(in buffer: [UInt8], from start: Int = 0, maxBytes: Int) -> Next {
        buffer.withUnsafeBytes { next(in: $0, from: start, maxBytes: maxBytes) }
    }

    private static func length(of count: Int) -> UInt32 {
        guard let length = UInt32(exactly: count) else {
            preconditionFailure("a MessagePack frame body of \(count) bytes does not fit its 4-byte length")
        }
        return length
    }
}

extension Envelope {
    /// Reads an envelope out of a frame body, as `init(message:)` reads a parsed JSON line:
    /// the same value model and the same checks, so both encodings fail alike.
    public init(messagePack body: UnsafeRawBufferPointer) throws(RPCError) {
        let message: JSONValue
        do {
            message = try MessagePackReader.decode(body)
        } catch {
            throw .badRequest(error.description)
        }
        try self.init(message: message)
    }

    public init(messagePack body: [UInt8]) throws(RPCError) {
        let result: Result<Envelope, RPCError> = body.withUnsafeBytes { buffer in
            Result { () throws(RPCError) -> Envelope in try Envelope(messagePack: buffer) }
        }
        self = try result.get()
    }

    /// The message as a MessagePack map `{"header": ..., "value": {...}}`, unframed.
    public func messagePackEncoded() -> [UInt8] {
        var writer = MessagePackWriter()
        write(to: &writer)
        return writer.bytes
    }

    /// The message as a whole frame, ready to send.
    public func messagePackFrame() -> [UInt8] {
        MessagePackFrame.frame { write(to: &$0) }
    }

    private func write(to writer: inout MessagePackWriter) {
        writer.mapHeader(count: 2)
        writer.string("header")
        writer.string(header)
        writer.string("value")
        writer.value(.object(value))
    }
}
