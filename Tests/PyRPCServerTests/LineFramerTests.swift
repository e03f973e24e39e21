import NIOCore
import XCTest
@testable import PyRPCServer

/// The framing rules of SPEC §2 on a byte stream that arrives in arbitrary pieces.
final class LineFramerTests: XCTestCase {
    /// Feeds `chunks` as a connection would, then EOF; returns messages as text and oversize markers.
    func frames(_ chunks: [String], maxBytes: Int = 16) -> [String] {
        var framer = LineFramer(maxBytes: maxBytes)
        var pending = ByteBuffer()
        var out: [String] = []
        func record(_ frame: Frame) {
            switch frame {
            case .message(let buffer): out.append(String(buffer: buffer))
            case .oversize(let limit): out.append("<oversize \(limit)>")
            }
        }
        for chunk in chunks {
            pending.writeString(chunk)
            while let frame = framer.next(from: &pending) { record(frame) }
        }
        for frame in framer.finish(&pending) { record(frame) }
        return out
    }

    func testLinesSplitAnywhere() {
        let stream = "alpha\nbeta\r\n\n  \ngamma"
        let expected = ["alpha", "beta", "gamma"]
        XCTAssertEqual(frames([stream]), expected)
        for cut in 0...stream.count {  // every two-piece split gives the same messages
            let split = stream.index(stream.startIndex, offsetBy: cut)
            XCTAssertEqual(frames([String(stream[..<split]), String(stream[split...])]), expected, "cut at \(cut)")
        }
        XCTAssertEqual(frames(stream.map { String($0) }), expected, "one byte at a time")
    }

    func testOversizeLineIsReportedOnceAndSkipped() {
        XCTAssertEqual(frames(["0123456789abcdefXYZ\nok\n"]), ["<oversize 16>", "ok"])
        XCTAssertEqual(frames(["0123456789", "abcdefghij", "klmnop", "qrs\nok\n"]), ["<oversize 16>", "ok"], "reported once while it streams in")
        XCTAssertEqual(frames(["0123456789abcdefghij"]), ["<oversize 16>"], "an oversize rest at EOF is not a message")
        XCTAssertEqual(frames(["0123456789abcdef\n"]), ["0123456789abcdef"], "exactly the limit is fine")
    }

    func testUnterminatedRestIsTheLastMessageAtEOF() {
        XCTAssertEqual(frames(["one\ntwo"]), ["one", "two"])
        XCTAssertEqual(frames(["one\n", "  "]), ["one"], "a blank rest is not a message")
        XCTAssertEqual(frames([]), [])
    }
}
