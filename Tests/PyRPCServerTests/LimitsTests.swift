import Foundation
import PyRPCServer
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Bounded resources under abuse: connection limits, the buffer budget, the message timeout,
/// and memory given back after huge messages. Real TCP on loopback.
final class LimitsTests: XCTestCase {
    private let add = requestLine(arguments: [2, 3], types: ["int", "int"], returns: ["int"]) + "\n"

    private func works(_ socket: RawSocket, as client: String = "c1", file: StaticString = #filePath, line: UInt = #line) {
        let add = requestLine(arguments: [2, 3], types: ["int", "int"], returns: ["int"], client: client) + "\n"
        XCTAssertNoThrow(try socket.send(add), file: file, line: line)
        XCTAssertEqual(try? JSONParser.parse(socket.readLine()).returnValues, [5], file: file, line: line)
    }

    func testConnectionsOverThePerAddressLimitAreClosedAtOnce() async throws {
        var options = ServerOptions()
        options.maxConnectionsPerAddress = 3
        let network = try await Fixtures.start(options: options)
        defer { Task { await network.stop() } }
        let kept = try (0..<3).map { _ in try network.socket() }
        for socket in kept { works(socket) }
        let extra = try RawSocket(host: network.host, port: network.port, timeout: 2)
        XCTAssertTrue(try extra.readsEOF(), "a fourth connection from one address stays open")
        extra.close()
        let far = try network.socket(from: "127.0.0.2")
        works(far, as: "far")  // another address has its own allowance
        for socket in kept { works(socket) }
        for socket in kept + [far] { socket.close() }
    }

    /// Behind a proxy or NAT every client shares one address: by default that address may
    /// hold as many connections as the server (the limit used to be 1,000 per address).
    func testOneAddressIsNotLimitedByDefault() async throws {
        XCTAssertEqual(ServerOptions().maxConnectionsPerAddress, 0)
        let network = try await Fixtures.start(options: ServerOptions())
        defer { Task { await network.stop() } }
        var held: [RawSocket] = []
        defer { for socket in held { socket.close() } }
        for _ in 0..<1_100 { held.append(try network.socket()) }
        // Every one of them is served, the last as the first.
        works(held[held.count - 1])
        works(held[0])
        works(try network.socket())
    }

    func testConnectionsOverTheServerLimitAreClosedAtOnce() async throws {
        var options = ServerOptions()
        options.maxConnections = 2
        let network = try await Fixtures.start(options: options)
        defer { Task { await network.stop() } }
        let first = try network.socket()
        let second = try network.socket(from: "127.0.0.2")
        works(first)
        works(second, as: "far")
        let third = try RawSocket(host: network.host, port: network.port, localAddress: "127.0.0.3", timeout: 2)
        XCTAssertTrue(try third.readsEOF())
        third.close()
        first.close()
        // A slot is free again once a connection closes.
        var again: RawSocket?
        let deadline = Date().addingTimeInterval(5)
        repeat {
            let socket = try RawSocket(host: network.host, port: network.port, timeout: 1)
            if (try? socket.send(add)) != nil, let answer = try? socket.readLine() {
                XCTAssertEqual(try JSONParser.parse(answer).returnValues, [5])
                again = socket
                break
            }
            socket.close()
            usleep(20_000)
        } while Date() < deadline
        XCTAssertNotNil(again, "no connection was accepted after one closed")
        again?.close()
        second.close()
    }

    func testAMessageThatDoesNotArriveInTimeIsRefused() async throws {
        var options = ServerOptions()
        options.messageTimeout = 0.5
        let network = try await Fixtures.start(options: options)
        defer { Task { await network.stop() } }
        let idle = try network.socket()
        let slow = try RawSocket(host: network.host, port: network.port, timeout: 5)
        try slow.send(#"{"header": "RPC-REQ", "value": {"serv"#)
        let start = Date()
        let answer = try JSONParser.parse(slow.readLine())
        XCTAssertEqual(answer.exceptionType, "Bad Request")
        XCTAssertTrue(answer.exceptionMessage?.contains("--message-timeout") == true, answer.jsonText)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        XCTAssertTrue(try slow.readsEOF())
        slow.close()
        works(idle)  // a connection with no message under way is the idle timeout's business
        idle.close()
    }

    func testPastTheBufferBudgetTheBiggestHoldersAreRefused() async throws {
        var options = ServerOptions()
        options.maxBufferedBytes = 4 << 20
        options.maxMessageBytes = 32 << 20
        let network = try await Fixtures.start(options: options)
        defer { Task { await network.stop() } }
        let normal = try network.socket()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
        var hogs: [RawSocket] = []
        for _ in 0..<3 {
            let hog = try RawSocket(host: network.host, port: network.port, timeout: 2)
            try hog.send(Array(#"{"header": "RPC-REQ", "value": {"service": ""#.utf8))
            hogs.append(hog)
        }
        // Each sends 2 MiB without ending its message: 6 MiB against a 4 MiB budget.
        for _ in 0..<32 {
            for hog in hogs { _ = try? hog.sendWithoutWaiting(chunk[...]) }
        }
        var refused = 0
        for hog in hogs {
            if let line = try? hog.readLine(), let answer = try? JSONParser.parse(line), answer.exceptionType == "Bad Request",
               answer.exceptionMessage?.contains("--max-buffered-bytes") == true {
                refused += 1
            }
            hog.close()
        }
        XCTAssertGreaterThanOrEqual(refused, 1, "nobody was refused past the budget")
        works(normal)
        normal.close()
    }
}
