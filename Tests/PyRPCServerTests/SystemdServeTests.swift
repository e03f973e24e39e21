import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve` under systemd's `Type=notify`, with a real datagram socket standing in for
/// systemd's: READY once a worker serves, RELOADING then READY around SIGHUP, STOPPING on
/// SIGTERM, WATCHDOG pings when asked; only the supervisor notifies (its workers never see
/// NOTIFY_SOCKET).
final class SystemdServeTests: ServerProcessTestCase {
    func testNotificationsFromTheSupervisorOnly() throws {
        let systemd = try NotifyListener(abstract: false)
        try writeFiles([
            "init.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "add.py")]),
            "add.py": "def add(a, b):\n    return a + b\n",
        ], in: folder)
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "2"], in: folder,
                                           environment: ["NOTIFY_SOCKET": systemd.name, "WATCHDOG_USEC": "400000"])
        server = process
        let ready = systemd.receive(within: 30)
        XCTAssertEqual(ready?.hasPrefix("READY=1\nSTATUS=serving 0 rpcs on 127.0.0.1:\(port) with 2 worker processes"), true, "\(ready ?? "nothing") \(log)")
        // Pinged every 200 ms (half of WATCHDOG_USEC).
        XCTAssertEqual(systemd.arrivals(of: "WATCHDOG=1", count: 3, deadline: 5).count, 3)
        for worker in childProcesses(of: process.processIdentifier) {
            let environment = CLIProcess.contents(URL(fileURLWithPath: "/proc/\(worker)/environ"))
            XCTAssertFalse(environment.contains("NOTIFY_SOCKET"), "worker \(worker) inherited NOTIFY_SOCKET")
            XCTAssertFalse(environment.contains("WATCHDOG_USEC"), "worker \(worker) inherited WATCHDOG_USEC")
        }

        kill(process.processIdentifier, SIGHUP)
        XCTAssertEqual(nextOtherThanWatchdog(systemd)?.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), true)
        XCTAssertEqual(nextOtherThanWatchdog(systemd, within: 60), "READY=1", log)
        // READY comes once both successors serve; the old workers then leave.
        XCTAssertEqual(occurrences(of: "replacing 2 workers one by one (SIGHUP)"), 1, log)
        XCTAssertTrue(wait(15) { occurrences(of: "(replaced (SIGHUP))") == 2 }, log)

        kill(process.processIdentifier, SIGTERM)
        XCTAssertEqual(nextOtherThanWatchdog(systemd), "STOPPING=1")
        XCTAssertTrue(wait(30) { !process.isRunning }, log)
    }

    private func nextOtherThanWatchdog(_ listener: NotifyListener, within seconds: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let message = listener.receive(within: deadline.timeIntervalSinceNow) else { return nil }
            if message != "WATCHDOG=1" { return message }
        }
        return nil
    }
}
