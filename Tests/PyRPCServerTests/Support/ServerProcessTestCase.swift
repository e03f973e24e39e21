import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A test that runs a real `pyrpc serve` in a temporary folder of its own, on a free port;
/// whatever server is left running at the end is killed.
class ServerProcessTestCase: XCTestCase {
    var folder: URL!
    var port = 0
    var server: Process?

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        port = CLIProcess.freePort()
    }

    /// The server's log (`CLIProcess.start` with the default log name).
    var log: String { CLIProcess.contents(folder.appendingPathComponent("server.err")) }

    func occurrences(of text: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// Waits until `condition` holds (checked every 10 ms) or `seconds` pass.
    @discardableResult
    func wait(_ seconds: Double = 15, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    override func tearDown() async throws {
        if let server, server.isRunning {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }
}
