import Foundation
import PyRPCServer
import PyRPCWire
import XCTest

/// A new plain connection is read as soon as it is accepted, before it enters the epoll set,
/// and a one-shot connection answered from there never enters it unless its answer fills the
/// socket (`IOLoop.acceptConnections`). These are the paths around that: a request that was
/// not there yet, a connection that stays open, and an answer bigger than the socket takes.
final class FirstReadTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        let rpcs = [("add", "[int, int]", "[int]", "add.py"), ("blob", "[int]", "[str]", "blob.py")]
        network = try await TestNetwork.start(yaml: oneServerNetwork(port: 8181, rpcs: rpcs), scripts: [
            "add.py": "def add(a, b):\n    return a + b\n",
            "blob.py": "def blob(n):\n    return 'x' * n\n",
        ])
    }

    override func tearDown() async throws {
        await network?.stop()
    }

    func add(_ a: Int, _ b: Int) -> String {
        requestLine(service: "svc", arguments: [.int(a), .int(b)], types: ["int", "int"], returns: ["int"])
    }

    /// The first read after accepting finds nothing yet: the connection is then watched, and
    /// the request that comes later is answered.
    func testOneShotRequestSentWellAfterConnectingIsAnswered() throws {
        let socket = try network.socket()
        defer { socket.close() }
        Thread.sleep(forTimeInterval: 0.2)  // accepted (and read, finding nothing) meanwhile, as a rule
        try socket.send(add(2, 3))
        socket.shutdownWrite()
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [5])
        XCTAssertTrue(try socket.readsEOF(), "the server closes after answering a one-shot request")
    }

    /// The first request is read at accept time; the connection must still be watched for the
    /// ones after it.
    func testPersistentConnectionKeepsBeingReadAfterItsFirstRequest() throws {
        let socket = try network.socket()
        defer { socket.close() }
        for n in 0..<5 {
            try socket.send(add(n, 100) + "\n")
            XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [.int(n + 100)])
            Thread.sleep(forTimeInterval: 0.05)  // the next request comes on its own, through epoll
        }
    }

    /// A one-shot answer of 2 MB to a client that does not read at first fills the socket: the
    /// connection, outside the epoll set since its input ended, is put there to finish writing.
    func testOneShotAnswerBiggerThanTheSocketIsWrittenWholeThenClosed() throws {
        let size = 2 << 20
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(requestLine(service: "svc", rpc: "blob", arguments: [.int(size)], types: ["int"], returns: ["str"]))
        socket.shutdownWrite()
        Thread.sleep(forTimeInterval: 0.3)  // the server writes until the socket is full, then waits
        let answer = try JSONParser.parse(socket.readLine())
        let text = try XCTUnwrap(answer.returnValues?.first?.stringValue, "\(String(describing: answer.header))")
        XCTAssertEqual(text.utf8.count, size)
        XCTAssertTrue(text.utf8.allSatisfy { $0 == UInt8(ascii: "x") })
        XCTAssertTrue(try socket.readsEOF(), "closed once the whole answer is written")
    }
}
