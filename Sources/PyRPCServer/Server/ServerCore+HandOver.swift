import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A worker process handing all its connections over before it ends (`IOLoop+HandOver.swift`):
/// leaving gracefully (`PyRPCServer.stop(handingOver:)`) or dying of a crashed call (`CrashRescue`).
extension ServerCore {
    /// Every loop stops accepting and reading and hands each connection over as soon as it
    /// owes no call in flight; the supervisor is asked for no more connections.
    func beginHandOver() {
        // First: the supervisor reads `leaving` before any connection this worker hands over.
        supervisor.withLockedValue { $0 }?.closeDoor()
        for loop in loops.all {
            loop.stopAccepting()
            loop.mailbox.post(.handOver)
        }
    }

    /// Waits until no connection is left and none can arrive, or `deadline`; returns how many
    /// are left. A poll (every millisecond): it ends the worker's life, and takes milliseconds.
    func waitForHandOver(until deadline: ContinuousClock.Instant) -> Int {
        let loops = loops.all
        let link = supervisor.withLockedValue { $0 }
        var left: Int { loops.reduce(0) { $0 + $1.openConnections.load(ordering: .relaxed) } }
        while left > 0 || link?.isDoorClosed == false, ContinuousClock.now < deadline {
            usleep(1000)
        }
        return left
    }
}
