import Foundation
import PyRPCServer
import PyRPCWire
import XCTest

/// `--idle-timeout`: a connection with no traffic and no call in flight is closed; one with
/// traffic, or with a call running, is not.
final class IdleTimeoutTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        var options = ServerOptions()
        options.idleTimeout = 0.4
        network = try await Fixtures.start(options: options)
    }

    override func tearDown() async throws {
        await network.stop()
    }

    func request(_ rpc: String, _ arguments: String, _ types: String, _ returns: String, service: String) -> String {
        #"{"header":"RPC-REQ","value":{"client":"c1","service":"\#(service)","rpc":"\#(rpc)","arguments":\#(arguments),"argument-types":\#(types),"return-types":\#(returns)}}"#
    }

    func testQuietConnectionIsClosedAfterTheTimeout() throws {
        let socket = try network.socket()
        defer { socket.close() }
        let start = Date()
        XCTAssertTrue(try socket.readsEOF(), "the server should close a connection that says nothing")
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(waited, 0.35)
        XCTAssertLessThan(waited, 2.0)
    }

    func testTrafficKeepsAConnectionOpen() throws {
        let socket = try network.socket()
        defer { socket.close() }
        let start = Date()
        while Date().timeIntervalSince(start) < 1.2 {  // three timeouts long
            try socket.send(request("add", "[2, 3]", #"["int","int"]"#, #"["int"]"#, service: "calc") + "\n")
            XCTAssertEqual(try JSONParser.parse(try socket.readLine())["value"]?["return-values"], [5])
            Thread.sleep(forTimeInterval: 0.15)
        }
    }

    func testCallInFlightKeepsAConnectionOpen() throws {
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(request("nap", "[1.0]", #"["float"]"#, #"["float"]"#, service: "demo") + "\n")
        let answer = try JSONParser.parse(try socket.readLine())
        XCTAssertEqual(answer["header"], "RPC-RES", "a call running past the idle timeout must still be answered: \(answer)")
    }
}
