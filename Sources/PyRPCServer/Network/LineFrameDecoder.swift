#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// One inbound message: the bytes of a line, or a line that exceeded the size limit.
enum Frame {
    case message(ByteBuffer)
    /// A line longer than the limit; its bytes were discarded up to its newline.
    case oversize(limit: Int)
}

/// Splits the byte stream into newline-terminated messages (JSON never holds a raw newline).
///
/// A line over `maxBytes` is not buffered: it is reported once as `.oversize` and skipped up
/// to its newline, so the connection stays usable. At EOF (the client half-closed) the
/// unterminated rest is one last message: the one-shot mode of SPEC §2.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    let maxBytes: Int
    /// How far the current buffer has been searched for a newline already.
    private var scanned = 0
    /// Inside an oversize line: dropping bytes until its newline.
    private var skipping = false

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let readable = buffer.readableBytes
        if let length = Self.newlineOffset(in: buffer, from: scanned) {
            scanned = 0
            if skipping {
                skipping = false
                buffer.moveReaderIndex(forwardBy: length + 1)
                return .continue
            }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if length > maxBytes {
                context.fireChannelRead(wrapInboundOut(.oversize(limit: maxBytes)))
                return .continue
            }
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            if !Self.isBlank(line) { context.fireChannelRead(wrapInboundOut(.message(line))) }
            return .continue
        }
        if readable > maxBytes {
            if !skipping {
                skipping = true
                context.fireChannelRead(wrapInboundOut(.oversize(limit: maxBytes)))
            }
            buffer.moveReaderIndex(forwardBy: readable)
            scanned = 0
            return .needMoreData
        }
        scanned = readable
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        scanned = 0
        if skipping {
            skipping = false
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        if buffer.readableBytes > 0 {
            var rest = buffer.readSlice(length: buffer.readableBytes)!
            if rest.readableBytesView.last == UInt8(ascii: "\r") { rest.moveWriterIndex(to: rest.writerIndex - 1) }
            if !Self.isBlank(rest) { context.fireChannelRead(wrapInboundOut(.message(rest))) }
        }
        return .needMoreData
    }

    /// Offset of the first newline at or after `start` in the readable bytes (memchr: the
    /// generic collection search costs several ns per byte on megabyte messages).
    private static func newlineOffset(in buffer: ByteBuffer, from start: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            guard start < bytes.count, let base = bytes.baseAddress else { return nil }
            guard let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }

    private static func isBlank(_ buffer: ByteBuffer) -> Bool {
        buffer.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
