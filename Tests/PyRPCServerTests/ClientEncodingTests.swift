import Foundation
import PyRPCClient
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Which encoding `pyrpc call` speaks: MessagePack first, and JSON at once with a server that
/// speaks only JSON lines. The servers here are small Python programs (the system's python3),
/// so what the CLI sends is seen from outside.
final class ClientEncodingTests: ServerProcessTestCase {
    private func startPython(_ source: String) throws -> Process {
        try source.write(to: folder.appendingPathComponent("server.py"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [folder.appendingPathComponent("server.py").path, "\(port)"]
        let output = folder.appendingPathComponent("python.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        try process.run()
        server = process
        XCTAssertTrue(wait(10) { CLIProcess.contents(folder.appendingPathComponent("python.out")).contains("listening") })
        return process
    }

    private func writeNetwork() throws {
        try writeFiles(["init.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "add.py")]), "add.py": ""], in: folder)
    }

    func testTheCLISpeaksMessagePackFirst() throws {
        try writeNetwork()
        _ = try startPython(Self.recordingServer)
        let call = try CLIProcess.run(["call", "svc", "add", "2", "3"], in: folder)
        XCTAssertEqual(call.stdout, "42\n", call.stderr)
        XCTAssertEqual(CLIProcess.contents(folder.appendingPathComponent("python.out")), "listening\nmessagepack\n")
    }

    func testTheSwiftClientSpeaksMessagePackFirstAndFallsBackToJSON() throws {
        _ = try startPython(Self.recordingServer)
        let client = BlockingRPCClient(host: "127.0.0.1", port: port, client: "c1")
        defer { client.close() }
        XCTAssertEqual(try client.call("svc", "add", 2, 3) as Int, 42)
        kill(server!.processIdentifier, SIGKILL)
        server!.waitUntilExit()
        _ = try startPython(Self.jsonLineServer)
        let other = BlockingRPCClient(host: "127.0.0.1", port: port, client: "c1")
        defer { other.close() }
        XCTAssertEqual(try other.call("svc", "add", 2, 3) as Int, 5)
        XCTAssertEqual(try other.call("svc", "add", 4, 3) as Int, 7, "the second call, on the JSON connection")
    }

    /// Answers 42 in MessagePack to a connection that starts with 0x00, 41 in JSON otherwise,
    /// and says which it saw.
    static let recordingServer = """
            import socket, struct, sys
            listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
            print("listening", flush=True)
            while True:
                connection, _ = listener.accept()
                first = connection.recv(1, socket.MSG_WAITALL)
                if first == b"\\x00":
                    (size,) = struct.unpack(">I", connection.recv(4, socket.MSG_WAITALL))
                    connection.recv(size, socket.MSG_WAITALL)
                    # {"header": "RPC-RES", "value": {"return-values": [42]}}
                    body = b"\\x82\\xa6header\\xa7RPC-RES\\xa5value\\x81\\xadreturn-values\\x91\\x2a"
                    connection.sendall(struct.pack(">I", len(body)) + body)
                    print("messagepack", flush=True)
                else:
                    connection.recv(65536)
                    connection.sendall(b'{"header":"RPC-RES","value":{"return-values":[41]}}\\n')
                    print("json", flush=True)
                connection.close()

            """

    /// A server that reads JSON lines (as course servers and pyrpc before MessagePack do):
    /// the CLI's first MessagePack frame puts a newline in the fourth byte, the server answers
    /// that line with an error in JSON at once, and the CLI asks again in JSON.
    func testTheCLIFallsBackToJSONAtOnceWithAServerThatSpeaksOnlyJSON() throws {
        try writeNetwork()
        _ = try startPython(Self.jsonLineServer)
        let started = Date()
        let call = try CLIProcess.run(["call", "svc", "add", "2", "3"], in: folder)
        XCTAssertEqual(call.stdout, "5\n", call.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3, "the fallback waited")
        // The MessagePack connection's lines are refused (one or more, before the CLI closes
        // it), then the JSON one is answered.
        let said = CLIProcess.contents(folder.appendingPathComponent("python.out"))
        XCTAssertTrue(said.hasPrefix("listening\nRPC-EX\n") && said.hasSuffix("\nRPC-RES\n"), said)
        XCTAssertEqual(said.components(separatedBy: "RPC-RES").count - 1, 1, said)
    }

    /// Reads JSON lines and answers each, as course servers do: `add`'s sum, or Bad Request.
    static let jsonLineServer = """
            import json, socket, sys, threading
            listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
            print("listening", flush=True)
            def serve(connection):
                with connection, connection.makefile("rb") as lines:
                    for line in lines:
                        try:
                            request = json.loads(line)
                            a, b = request["value"]["arguments"]
                            answer = {"header": "RPC-RES", "value": {"return-values": [a + b]}}
                        except Exception as error:
                            answer = {"header": "RPC-EX", "value": {"exception-type": "Bad Request", "exception-message": str(error)}}
                        connection.sendall(json.dumps(answer).encode() + b"\\n")
                        print(answer["header"], flush=True)
            while True:
                connection, _ = listener.accept()
                threading.Thread(target=serve, args=(connection,), daemon=True).start()

            """
}
