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

    override func tearDown() async throws {
        if let server, server.isRunning {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }
}
