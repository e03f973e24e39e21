import PyRPCWire
import XCTest

/// The operations port's request-head reader: what HAProxy, curl and Prometheus send, and what
/// must be refused at once.
final class HTTPRequestHeadTests: XCTestCase {
    private func parse(_ text: String) -> HTTPRequestHead.Outcome {
        Array(text.utf8).withUnsafeBytes { HTTPRequestHead.parse($0) }
    }

    func testHeadsOfRealClients() {
        let check = "GET /readyz HTTP/1.1\r\nHost: pyrpc\r\n\r\n"
        XCTAssertEqual(parse(check), .complete(HTTPRequestHead(method: "GET", path: "/readyz", version: "HTTP/1.1"), length: check.utf8.count))
        XCTAssertEqual(parse("HEAD /livez?verbose=1 HTTP/1.0\n\nbody"),
                       .complete(HTTPRequestHead(method: "HEAD", path: "/livez", version: "HTTP/1.0"), length: 32))
        XCTAssertEqual(parse("GET /metrics HTTP/1.1\r\nAccept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nX-Empty:\r\n\r\n"),
                       .complete(HTTPRequestHead(method: "GET", path: "/metrics", version: "HTTP/1.1"), length: 85))
    }

    func testUnfinishedHeadsAskForMore() {
        for text in ["", "G", "GET /re", "GET /readyz HTTP/1.1", "GET /readyz HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n"] {
            XCTAssertEqual(parse(text), .incomplete, text)
        }
    }

    func testWhatIsNotHTTPIsRefusedAtOnce() {
        let refused: [(String, String)] = [
            (#"{"header":"LS-REQ"}"#, "not an HTTP request line"),
            ("\u{16}\u{03}\u{01}", "not an HTTP request line"),
            ("get / HTTP/1.1\r\n\r\n", "the method is not a word in capitals"),
            ("GET readyz HTTP/1.1\r\n\r\n", "the target is not a path starting with /"),
            ("GET / HTTP/2.0\r\n\r\n", "only HTTP/1.0 and HTTP/1.1 are spoken here"),
            ("GET  / HTTP/1.1\r\n\r\n", "the request line is not `METHOD /path HTTP/1.1`"),
            ("GET / HTTP/1.1\r\nno colon here\r\n\r\n", "a header line is not `name: value` in visible ASCII"),
            ("GET / HTTP/1.1\r\nX: caf\u{E9}\r\n\r\n", "a header line is not `name: value` in visible ASCII"),
        ]
        for (text, reason) in refused {
            XCTAssertEqual(parse(text), .invalid(reason), text)
        }
    }
}
