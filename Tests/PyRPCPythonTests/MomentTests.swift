import Foundation
import XCTest
@testable import PyRPCPython

/// The monotonic nanosecond clock of the per-call paths: its arithmetic at the edges a call's
/// limits reach (no limit is 1e9 s), and that it keeps time with the system's clock.
final class MomentTests: XCTestCase {
    func testArithmeticSaturatesInsteadOfWrapping() {
        let start = Moment(nanoseconds: 5_000_000_000)
        XCTAssertEqual(start.advanced(bySeconds: 1.5).nanoseconds, 6_500_000_000)
        XCTAssertEqual(start.advanced(bySeconds: -2).nanoseconds, 3_000_000_000)
        XCTAssertEqual(start.advanced(bySeconds: -10).nanoseconds, 0, "before the clock's zero is its zero")
        XCTAssertEqual(start.advanced(bySeconds: 1e9).nanoseconds, 5_000_000_000 + 1_000_000_000 * 1_000_000_000)
        XCTAssertEqual(start.advanced(bySeconds: 1e30).nanoseconds, .max, "a limit beyond the clock's range is never")
        XCTAssertEqual(Moment(nanoseconds: .max - 1).advanced(bySeconds: 1).nanoseconds, .max)
        XCTAssertEqual((start + .milliseconds(250)).nanoseconds, 5_250_000_000)
    }

    func testSecondsBetweenMomentsHaveASign() {
        let earlier = Moment(nanoseconds: 1_000_000_000)
        let later = Moment(nanoseconds: 3_500_000_000)
        XCTAssertEqual(later.seconds(since: earlier), 2.5)
        XCTAssertEqual(earlier.seconds(since: later), -2.5)
        XCTAssertLessThan(earlier, later)
    }

    func testMillisecondsUntilAMomentRoundUpAndStopAtZero() {
        let now = Moment(nanoseconds: 10_000_000)
        XCTAssertEqual(Moment(nanoseconds: 10_000_001).millisecondsFrom(now), 1, "a nanosecond left is a millisecond to wait, not none")
        XCTAssertEqual(Moment(nanoseconds: 12_000_000).millisecondsFrom(now), 2)
        XCTAssertEqual(Moment(nanoseconds: 2_510_000_000).millisecondsFrom(now), 2_500)
        XCTAssertEqual(Moment(nanoseconds: 9_000_000).millisecondsFrom(now), 0, "a moment passed is no wait")
        XCTAssertEqual(Moment(nanoseconds: .max).millisecondsFrom(now), Int64((UInt64.max - 10_000_000 + 999_999) / 1_000_000))
    }

    func testItKeepsTimeWithTheSystemClock() {
        let start = Moment.now
        let reference = ContinuousClock.now
        Thread.sleep(forTimeInterval: 0.05)
        let measured = start.secondsAgo
        let expected = elapsed(since: reference)
        XCTAssertGreaterThanOrEqual(measured, 0.05)
        XCTAssertEqual(measured, expected, accuracy: 0.01)
        XCTAssertLessThanOrEqual(start, Moment.now)
    }
}
