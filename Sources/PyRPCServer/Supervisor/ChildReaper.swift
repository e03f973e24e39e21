import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The one thread of a process that waits for its child processes, handing each exit to
/// whoever started that child. Several supervisors share a process (`pyrpc up`): each
/// waiting for any child itself, one would take the exit of another's worker.
final class ChildReaper: Sendable {
    static let shared = ChildReaper()

    typealias Handler = @Sendable (_ pid: pid_t, _ status: Int32) -> Void
    private struct State {
        var handlers: [pid_t: Handler] = [:]
        /// Exits that came before their child was registered (it died at once).
        var early: [pid_t: Int32] = [:]
        var started = false
    }
    private let state = NIOLockedValueBox(State())
    private let childStarted = DispatchSemaphore(value: 0)

    /// Calls `handler` once child `pid` has exited (at once if it already has).
    func watch(_ pid: pid_t, _ handler: @escaping Handler) {
        let (early, start) = state.withLockedValue { state -> (Int32?, Bool) in
            defer { state.started = true }
            if let status = state.early.removeValue(forKey: pid) { return (status, !state.started) }
            state.handlers[pid] = handler
            return (nil, !state.started)
        }
        if start {
            let thread = Thread { [self] in reap() }
            thread.start()
        }
        childStarted.signal()
        if let early { handler(pid, early) }
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid > 0 {
                let handler = state.withLockedValue { state -> Handler? in
                    if let handler = state.handlers.removeValue(forKey: pid) { return handler }
                    state.early[pid] = status
                    return nil
                }
                handler?(pid, status)
            } else if errno == ECHILD {
                _ = childStarted.wait(timeout: .now() + 0.5)
            }
        }
    }
}
