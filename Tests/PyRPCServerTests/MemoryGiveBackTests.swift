import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// On the real binary: memory taken by huge messages goes back once they are dropped, and
/// refusals are logged as a summary, not a line each.
final class MemoryGiveBackTests: XCTestCase {
    private func residentMiB(_ pid: Int32) -> Int {
        let status = CLIProcess.contents(URL(fileURLWithPath: "/proc/\(pid)/status"))
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    func testHugeUnfinishedMessagesGiveTheirMemoryBackAndRefusalsAreSummarized() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = CLIProcess.freePort()
        try writeFiles([
            "init.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "add.py")]),
            "add.py": "def add(a, b):\n    return a + b\n",
        ], in: folder)
        let server = try CLIProcess.start(
            ["serve", "s1", "--state-dir", folder.appendingPathComponent("state").path, "--max-connections-per-ip", "30"], in: folder)
        defer { server.terminate(); server.waitUntilExit() }
        XCTAssertTrue(CLIProcess.waitForPort(port))
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0)
        let pid = servingProcess(of: server.processIdentifier)
        let idle = residentMiB(pid)

        // 20 clients each send 10 MB of a message that never ends.
        let chunk = [UInt8](repeating: UInt8(ascii: "7"), count: 1 << 20)
        var clients: [RawSocket] = []
        for _ in 0..<20 {
            let socket = try RawSocket(host: "127.0.0.1", port: port)
            try socket.send(Array(#"{"header": "RPC-REQ", "value": {"arguments": ["#.utf8))
            for _ in 0..<10 { try socket.send(chunk) }
            clients.append(socket)
        }
        var peak = residentMiB(pid)
        let holdDeadline = Date().addingTimeInterval(10)
        while peak < idle + 150, Date() < holdDeadline {
            usleep(50_000)
            peak = residentMiB(pid)
        }
        // Five more connections than the per-address limit allows: refused, one log line. They
        // stay open until the server has seen them: a connection its client already closed is
        // read to its end as it is accepted, and is gone before the next one is counted.
        let extra = try (0..<15).map { _ in try RawSocket(host: "127.0.0.1", port: port, timeout: 2) }
        let refusalDeadline = Date().addingTimeInterval(10)
        while !CLIProcess.contents(folder.appendingPathComponent("server.err")).contains("refused (at most one line a second)"),
              Date() < refusalDeadline {
            usleep(20_000)
        }
        for socket in extra { socket.close() }
        for socket in clients { socket.close() }

        var now = residentMiB(pid)
        let deadline = Date().addingTimeInterval(15)
        while now > idle + 64, Date() < deadline {
            usleep(100_000)
            now = residentMiB(pid)
        }
        print("server RSS: idle \(idle) MiB, holding 200 MB of unfinished messages \(peak) MiB, after they were dropped \(now) MiB")
        XCTAssertGreaterThan(peak, idle + 150, "the server never held the messages")
        // AddressSanitizer's allocator keeps freed memory in quarantine and ignores malloc_trim.
        if ProcessInfo.processInfo.environment["PYRPC_SANITIZER"] != "address" {
            XCTAssertLessThanOrEqual(now, idle + 64, "the memory of dropped messages was not given back")
        }

        let log = CLIProcess.contents(folder.appendingPathComponent("server.err"))
        let summaries = log.split(separator: "\n").filter { $0.contains("refused (at most one line a second)") }
        XCTAssertGreaterThanOrEqual(summaries.count, 1, log)
        XCTAssertLessThan(summaries.count, 5, "refusals must be summarized, not logged one by one")
        XCTAssertTrue(summaries.first?.contains("over --max-connections-per-ip 30") == true, "\(summaries)")
    }
}
