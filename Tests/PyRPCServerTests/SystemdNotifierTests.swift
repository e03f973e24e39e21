import Foundation
import Synchronization
import XCTest
@testable import PyRPCServer

#if canImport(Glibc)
import Glibc
#endif

/// `SystemdNotifier` against a real unix datagram socket standing in for systemd's: the exact
/// datagrams, the watchdog's pace, and what `fromEnvironment` takes from the environment.
final class SystemdNotifierTests: XCTestCase {
    /// Whether the watchdog's `isAlive` says yes, switched by the test.
    private final class Switch: Sendable {
        let on = Atomic<Bool>(true)
    }

    private static func monotonicMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    func testEachNotificationIsOneExactDatagram() throws {
        let listener = try NotifyListener(abstract: false)
        let notifier = SystemdNotifier(socketPath: listener.name)

        notifier.ready()
        XCTAssertEqual(listener.receive(), "READY=1")
        notifier.ready(status: "serving 3 rpcs on 0.0.0.0:8181")
        XCTAssertEqual(listener.receive(), "READY=1\nSTATUS=serving 3 rpcs on 0.0.0.0:8181")
        notifier.stopping()
        XCTAssertEqual(listener.receive(), "STOPPING=1")
        notifier.status("replacing 2 workers")
        XCTAssertEqual(listener.receive(), "STATUS=replacing 2 workers")
        notifier.status("line one\nREADY=1")
        XCTAssertEqual(listener.receive(), "STATUS=line one READY=1", "a newline in a status cannot start another assignment")

        let before = Self.monotonicMicroseconds()
        notifier.reloading()
        let after = Self.monotonicMicroseconds()
        let lines = try XCTUnwrap(listener.receive()).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.first, "RELOADING=1")
        let stamp = try XCTUnwrap(lines.last)
        XCTAssertTrue(stamp.hasPrefix("MONOTONIC_USEC="), "\(stamp)")
        let microseconds = try XCTUnwrap(Int64(stamp.dropFirst("MONOTONIC_USEC=".count)), "not a number: \(stamp)")
        XCTAssertTrue((before...after).contains(microseconds), "\(microseconds) is not CLOCK_MONOTONIC's now (\(before)...\(after))")

        XCTAssertNil(listener.receive(within: 0.1), "one datagram per notification")
    }

    func testAbstractSocket() throws {
        let listener = try NotifyListener(abstract: true)
        let notifier = SystemdNotifier(socketPath: listener.name)
        notifier.ready(status: "abstract")
        XCTAssertEqual(listener.receive(), "READY=1\nSTATUS=abstract")
        notifier.stopping()
        XCTAssertEqual(listener.receive(), "STOPPING=1")
    }

    func testNobodyListeningIsIgnored() throws {
        let listener = try NotifyListener(abstract: false)
        for path in [listener.name + ".absent", "@pyrpc-test-absent-\(UInt64.random(in: 0...UInt64.max))", "relative/notify", "vsock:2:1234", "/" + String(repeating: "x", count: 200)] {
            let notifier = SystemdNotifier(socketPath: path, watchdogInterval: .milliseconds(100))
            notifier.ready(status: "nobody hears this")
            notifier.reloading()
            notifier.stopping()
            notifier.status("nor this")
            notifier.startWatchdog { true }
            notifier.stop()
        }
        XCTAssertNil(listener.receive(within: 0.1))
    }

    func testWatchdogPingsEveryHalfInterval() throws {
        let listener = try NotifyListener(abstract: false)
        let notifier = SystemdNotifier(socketPath: listener.name, watchdogInterval: .milliseconds(100))
        notifier.startWatchdog { true }
        let times = listener.arrivals(of: "WATCHDOG=1", count: 6)
        notifier.stop()
        XCTAssertEqual(times.count, 6, "the watchdog did not keep pinging")
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        // Every half interval (50 ms): never much sooner; well within the interval on average.
        XCTAssertGreaterThan(gaps.min() ?? .zero, .milliseconds(25), "\(gaps)")
        XCTAssertLessThan(gaps.reduce(.zero, +) / gaps.count, .milliseconds(100), "\(gaps)")

        // After `stop`: at most a ping that was already on its way, then nothing.
        _ = listener.receive(within: 0.02)
        XCTAssertNil(listener.receive(within: 0.3), "pinged after stop")
    }

    func testWatchdogPingsOnlyWhileAlive() throws {
        let listener = try NotifyListener(abstract: false)
        let notifier = SystemdNotifier(socketPath: listener.name, watchdogInterval: .milliseconds(100))
        let alive = Switch()
        notifier.startWatchdog { alive.on.load(ordering: .relaxed) }
        defer { notifier.stop() }
        XCTAssertEqual(listener.arrivals(of: "WATCHDOG=1", count: 2).count, 2)

        alive.on.store(false, ordering: .relaxed)
        _ = listener.receive(within: 0.06)  // a ping decided before the switch
        XCTAssertNil(listener.receive(within: 0.3), "pinged while not alive: systemd would never restart a stuck supervisor")

        alive.on.store(true, ordering: .relaxed)
        XCTAssertEqual(listener.arrivals(of: "WATCHDOG=1", count: 2).count, 2, "no ping once alive again")
    }

    func testNoWatchdogWithoutInterval() throws {
        let listener = try NotifyListener(abstract: false)
        let notifier = SystemdNotifier(socketPath: listener.name)
        notifier.startWatchdog { true }
        defer { notifier.stop() }
        XCTAssertNil(listener.receive(within: 0.2))
    }

    // MARK: The environment

    private static let variables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]
    /// What the test process had (the tests may themselves run under systemd).
    private var saved: [String: String] = [:]

    override func setUp() {
        super.setUp()
        for name in Self.variables { saved[name] = getenv(name).map { String(cString: $0) } }
    }

    override func tearDown() {
        for name in Self.variables {
            if let value = saved[name] { setenv(name, value, 1) } else { unsetenv(name) }
        }
        super.tearDown()
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    func testFromEnvironmentIsNilWithoutNotifySocket() {
        for name in Self.variables { unsetenv(name) }
        XCTAssertNil(SystemdNotifier.fromEnvironment())
        setenv("WATCHDOG_USEC", "100000", 1)
        XCTAssertNil(SystemdNotifier.fromEnvironment(), "a watchdog alone is no notify socket")
        XCTAssertNil(Self.environment("WATCHDOG_USEC"), "removed all the same")
        setenv("NOTIFY_SOCKET", "", 1)
        XCTAssertNil(SystemdNotifier.fromEnvironment())
    }

    func testFromEnvironmentReadsAndRemovesTheVariables() throws {
        let listener = try NotifyListener(abstract: false)
        setenv("NOTIFY_SOCKET", listener.name, 1)
        setenv("WATCHDOG_USEC", "100000", 1)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        let notifier = try XCTUnwrap(SystemdNotifier.fromEnvironment())
        for name in Self.variables { XCTAssertNil(Self.environment(name), "\(name) would reach the workers") }
        XCTAssertNil(ProcessInfo.processInfo.environment["NOTIFY_SOCKET"])
        XCTAssertEqual(notifier.watchdogInterval, .milliseconds(100))

        notifier.ready()
        XCTAssertEqual(listener.receive(), "READY=1")
        notifier.startWatchdog { true }
        defer { notifier.stop() }
        XCTAssertEqual(listener.arrivals(of: "WATCHDOG=1", count: 2).count, 2)
    }

    func testWatchdogOfAnotherProcessIsNotOurs() throws {
        let listener = try NotifyListener(abstract: true)
        setenv("NOTIFY_SOCKET", listener.name, 1)
        setenv("WATCHDOG_USEC", "100000", 1)
        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)
        let notifier = try XCTUnwrap(SystemdNotifier.fromEnvironment())
        XCTAssertNil(notifier.watchdogInterval)
        for name in Self.variables { XCTAssertNil(Self.environment(name)) }
        notifier.ready()
        XCTAssertEqual(listener.receive(), "READY=1", "notifications are still ours")

        setenv("NOTIFY_SOCKET", listener.name, 1)
        setenv("WATCHDOG_USEC", "soon", 1)
        XCTAssertNil(try XCTUnwrap(SystemdNotifier.fromEnvironment()).watchdogInterval, "WATCHDOG_USEC is not a number")
    }
}
