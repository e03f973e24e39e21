import CLinux
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd (`Type=notify`) how the server is doing: a datagram to $NOTIFY_SOCKET, as
/// sd_notify(3) sends it, without linking libsystemd. systemd then knows when the server
/// really serves (`READY=1`: units ordered after it start then, not when the process is
/// forked), that a SIGHUP is being worked on (`RELOADING=1`), that a stop is a drain and not
/// a hang (`STOPPING=1`), and — with `WatchdogSec=` — that the supervisor is still alive
/// (`WATCHDOG=1`), so that a wedged one is restarted. Outside systemd there is no notifier
/// (`fromEnvironment` is nil), and nothing it sends can hold up or fail the server.
public final class SystemdNotifier: Sendable {
    private let socket: NotifySocket?
    /// How long systemd waits for a `WATCHDOG=1` before it kills and restarts the service.
    let watchdogInterval: Duration?
    private let watchdog = NIOLockedValueBox(WatchdogState())
    /// Signalled by `stop`, so the watchdog thread ends at once rather than at its next ping.
    private let wake = DispatchSemaphore(value: 0)

    private struct WatchdogState {
        var started = false
        var stopped = false
    }

    /// nil when NOTIFY_SOCKET is not set (not started by systemd with Type=notify). Reads
    /// NOTIFY_SOCKET and WATCHDOG_USEC (and WATCHDOG_PID: only if it equals getpid(), or is
    /// absent); unsets NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID from the environment so that
    /// worker processes the supervisor spawns do not inherit them (they must not notify:
    /// systemd's default NotifyAccess=main drops, and logs, what they would send).
    ///
    /// Call it once, early — before other threads run (the environment is not thread-safe) and
    /// before the workers' environment is taken from this process's.
    public static func fromEnvironment() -> SystemdNotifier? {
        let variables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]
        let values = variables.map { name in getenv(name).map { String(cString: $0) } }
        for name in variables { unsetenv(name) }
        guard let path = values[0], !path.isEmpty else { return nil }
        // The watchdog is this process's only if systemd named no other (sd_watchdog_enabled).
        let forThisProcess = values[2].map { pid_t($0) == getpid() } ?? true
        let microseconds = values[1].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
        return SystemdNotifier(socketPath: path, watchdogInterval: forThisProcess ? microseconds.map { .microseconds($0) } : nil)
    }

    /// Notifies the socket at `socketPath` (an absolute path, or `@name` for an abstract one; for
    /// anything else every notification is dropped). `watchdogInterval`: what WATCHDOG_USEC says.
    public init(socketPath: String, watchdogInterval: Duration? = nil) {
        socket = NotifySocket(socketPath)
        self.watchdogInterval = watchdogInterval
    }

    /// The server serves (and, after `reloading`, the reload is done): `READY=1`, with a
    /// status line for `systemctl status` if given.
    public func ready(status: String? = nil) {
        send(["READY=1"] + (status.map { ["STATUS=\(Self.oneLine($0))"] } ?? []))
    }

    /// A SIGHUP is being worked on: systemd shows the unit reloading until the next `ready`.
    /// systemd ≥ 253 wants the monotonic clock's reading of this moment with it (to match the
    /// notification to the reload request); older ones ignore the field.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(microseconds)"])
    }

    /// The server is draining and will exit: systemd shows the unit deactivating, not hung.
    public func stopping() {
        send(["STOPPING=1"])
    }

    /// A line for `systemctl status` (what the server is doing now).
    public func status(_ text: String) {
        send(["STATUS=\(Self.oneLine(text))"])
    }

    /// When systemd asked for a watchdog (WATCHDOG_USEC): a thread sends WATCHDOG=1 every half
    /// interval while `isAlive()` is true (a supervisor whose coordination is stuck stops
    /// pinging, and systemd restarts it). A false answer only skips that ping: one that comes
    /// true again before the interval runs out is not restarted. `isAlive` runs on the
    /// watchdog's thread and should answer within the half interval. Without a watchdog
    /// interval, or once `stop` was called, it does nothing; it starts one thread at most.
    public func startWatchdog(isAlive: @escaping @Sendable () -> Bool) {
        guard let watchdogInterval else { return }
        let start = watchdog.withLockedValue { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        guard start else { return }
        let half = Self.dispatchInterval(watchdogInterval / 2)
        let thread = Thread { [self] in
            pyrpc_name_thread("systemd watchdog")
            repeat {
                if isAlive() { send(["WATCHDOG=1"]) }
            } while wake.wait(timeout: .now() + half) == .timedOut
        }
        thread.start()
    }

    /// Ends the watchdog thread (no ping after this returns, but one already being sent).
    public func stop() {
        let running = watchdog.withLockedValue { state -> Bool in
            defer { state.stopped = true }
            return state.started && !state.stopped
        }
        if running { wake.signal() }
    }

    /// systemd reads one assignment per line; a failed send is dropped (see `NotifySocket.send`).
    private func send(_ assignments: [String]) {
        socket?.send(assignments.joined(separator: "\n"))
    }

    /// A status is one line: a newline in it (an error's text) would start another assignment.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    private static func dispatchInterval(_ duration: Duration) -> DispatchTimeInterval {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
