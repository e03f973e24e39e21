import Foundation
import Synchronization
import XCTest

@testable import PyRPCServer

/// The retire/finish handshake of a generation: a retired generation refuses new calls and
/// is released exactly once, by whoever ends its last call, under any interleaving.
final class GenerationTests: XCTestCase {
    func testIdleGenerationIsReleasedWhenRetired() {
        let generation = Generation.empty(server: "s1")
        let releases = Atomic<Int>(0)
        XCTAssertTrue(generation.beginCall())
        generation.endCall()
        generation.retire { _ in releases.wrappingAdd(1, ordering: .relaxed) }
        XCTAssertEqual(releases.load(ordering: .relaxed), 1)
        XCTAssertTrue(generation.isRetired)
    }

    func testRetiredGenerationRefusesCallsAndWaitsForTheLastOne() {
        let generation = Generation.empty(server: "s1")
        let releases = Atomic<Int>(0)
        XCTAssertTrue(generation.beginCall())
        XCTAssertTrue(generation.beginCall())
        generation.retire { _ in releases.wrappingAdd(1, ordering: .relaxed) }
        XCTAssertFalse(generation.beginCall(), "a call began on a retired generation")
        XCTAssertEqual(generation.callsInFlight, 2)
        generation.endCall()
        XCTAssertEqual(releases.load(ordering: .relaxed), 0, "released with a call in flight")
        generation.endCall()
        XCTAssertEqual(releases.load(ordering: .relaxed), 1)
        XCTAssertEqual(generation.callsInFlight, 0)
    }

    /// Four threads begin and end calls while a fifth retires the generation at a random
    /// moment, 300 times: every generation is released exactly once, never while a call that
    /// began on it is still in flight.
    func testConcurrentCallsAndRetireReleaseExactlyOnce() {
        for _ in 0..<300 {
            let generation = Generation.empty(server: "s1")
            let releases = Atomic<Int>(0)
            let inFlight = Atomic<Int>(0)
            let releasedEarly = Atomic<Bool>(false)
            let group = DispatchGroup()
            for _ in 0..<4 {
                group.enter()
                Thread {
                    for _ in 0..<2_000 {
                        guard generation.beginCall() else { break }
                        inFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
                        if releases.load(ordering: .sequentiallyConsistent) != 0 { releasedEarly.store(true, ordering: .relaxed) }
                        inFlight.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                        generation.endCall()
                    }
                    group.leave()
                }.start()
            }
            group.enter()
            Thread {
                usleep(UInt32.random(in: 0..<300))
                generation.retire { _ in
                    if inFlight.load(ordering: .sequentiallyConsistent) != 0 { releasedEarly.store(true, ordering: .relaxed) }
                    releases.wrappingAdd(1, ordering: .sequentiallyConsistent)
                }
                group.leave()
            }.start()
            group.wait()
            XCTAssertEqual(releases.load(ordering: .relaxed), 1, "a retired generation must be released exactly once")
            XCTAssertFalse(releasedEarly.load(ordering: .relaxed), "released while a call was in flight")
            XCTAssertEqual(generation.callsInFlight, 0)
        }
    }
}
