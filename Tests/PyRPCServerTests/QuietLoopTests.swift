import Foundation
import PyRPCServer
import PyRPCWire
import XCTest

/// An idle server sleeps: its I/O loop wakes for its timers (idle sweeps, slow-message
/// checks), not every millisecond. (It once rounded the time to the next slow-message check
/// down to whole seconds, so for the last second before every check it slept 1 ms at a time:
/// with a 2 s message timeout, a thousand wake-ups a second.)
final class QuietLoopTests: XCTestCase {
    func testAnIdleLoopWakesOnlyForItsTimers() async throws {
        var options = ServerOptions()
        options.messageTimeout = 2  // a slow-message check every 0.5 s
        options.idleTimeout = 300
        let network = try await Fixtures.start(options: options)
        // One call first, so the loop has served something and is back to sleep.
        XCTAssertEqual(try network.roundTrip(Self.add)["value"]?["return-values"], [5])
        let before = Self.loopWakeUps()
        try await Task.sleep(for: .milliseconds(1500))
        let after = Self.loopWakeUps()
        await network.stop()
        let (first, last) = (try XCTUnwrap(before, "no I/O loop thread named io-s1-* in this process"), try XCTUnwrap(after))
        // Three or four message checks in 1.5 s, and some slack for a busy machine.
        XCTAssertLessThan(last - first, 40, "an idle loop woke \(last - first) times in 1.5 s")
    }

    static let add = #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[2,3],"argument-types":["int","int"],"return-types":["int"]}}"#

    /// Voluntary context switches of this process's threads named `io-s1-*` (each sleep that
    /// ends is one), added up: other tests' loops of the same name are stopped or asleep.
    static func loopWakeUps() -> Int? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return nil }
        var total: Int?
        for task in tasks {
            guard let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  name.hasPrefix("io-s1-"),
                  let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches:") }),
                  let count = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
            else { continue }
            total = (total ?? 0) + count
        }
        return total
    }
}
