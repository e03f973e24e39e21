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

    /// `cpuSeconds`: the processor time the child used, user and system (`pyrpc_process_cpu_seconds_total`
    /// keeps counting what workers used after they are gone).
    typealias Handler = @Sendable (_ pid: pid_t, _ status: Int32, _ cpuSeconds: Double) -> Void
    private struct State {
        var handlers: [pid_t: Handler] = [:]
        /// Exits that came before their child was registered (it died at once).
        var early: [pid_t: (status: Int32, cpuSeconds: Double)] = [:]
        var started = false
    }
    private let state = NIOLockedValueBox(State())
    private let childStarted = DispatchSemaphore(value: 0)

    /// Calls `handler` once child `pid` has exited (at once if it already has).
    func watch(_ pid: pid_t, _ handler: @escaping Handler) {
        let (early, start) = state.withLockedValue { state -> ((status: Int32, cpuSeconds: Double)?, Bool) in
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
        if let early { handler(pid, early.status, early.cpuSeconds) }
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            var usage = rusage()
            let pid = wait4(-1, &status, 0, &usage)
            if pid > 0 {
                let cpuSeconds = Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime)
                let handler = state.withLockedValue { state -> Handler? in
                    if let handler = state.handlers.removeValue(forKey: pid) { return handler }
                    state.early[pid] = (status, cpuSeconds)
                    return nil
                }
                handler?(pid, status, cpuSeconds)
            } else if errno == ECHILD {
                _ = childStarted.wait(timeout: .now() + 0.5)
            }
        }
    }
}
