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
/// unterminated rest is one last message: the one-shot mode of SPEC §2. Blank lines are
/// ignored and a trailing `\r` is dropped.
struct LineFramer {
    let maxBytes: Int
    /// How far the buffer has been searched for a newline already.
    private var scanned = 0
    /// Inside an oversize line: dropping bytes until its newline.
    private var skipping = false

    /// `skipping`: the line under way is over the limit (a connection handed over mid-line).
    init(maxBytes: Int, skipping: Bool = false) {
        self.maxBytes = maxBytes
        self.skipping = skipping
    }

    /// Inside an oversize line, dropping it.
    var isSkipping: Bool { skipping }

    /// The next frame from the readable bytes of `buffer`, consuming them; nil when more
    /// data is needed.
    mutating func next(from buffer: inout ByteBuffer) -> Frame? {
        while true {
            let readable = buffer.readableBytes
            guard let length = Self.newlineOffset(in: buffer, from: scanned) else {
                if readable > maxBytes {
                    buffer.moveReaderIndex(forwardBy: readable)
                    scanned = 0
                    if !skipping {
                        skipping = true
                        return .oversize(limit: maxBytes)
                    }
                    return nil
                }
                scanned = readable
                return nil
            }
            scanned = 0
            if skipping {
                skipping = false
                buffer.moveReaderIndex(forwardBy: length + 1)
                continue
            }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if length > maxBytes { return .oversize(limit: maxBytes) }
            if let frame = Self.message(&line) { return frame }
        }
    }

    /// At EOF: the frames still in `buffer`, the unterminated rest included.
    mutating func finish(_ buffer: inout ByteBuffer) -> [Frame] {
        var frames: [Frame] = []
        while let frame = next(from: &buffer) { frames.append(frame) }
        scanned = 0
        if skipping {
            skipping = false
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return frames
        }
        if buffer.readableBytes > 0, var rest = buffer.readSlice(length: buffer.readableBytes), let frame = Self.message(&rest) {
            frames.append(frame)
        }
        return frames
    }

    /// The line as a message, without a trailing `\r`; nil for a blank line.
    private static func message(_ line: inout ByteBuffer) -> Frame? {
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        return isBlank(line) ? nil : .message(line)
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
