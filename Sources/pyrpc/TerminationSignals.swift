import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM, caught from the moment this is made (Python installs no handlers of
/// its own: see PythonRuntime): one that arrives while a server is still starting is kept,
/// not fatal. With `hangUps`, SIGHUP runs what `onHangUp` set (a supervisor replaces its
/// workers) instead of ending the process.
final class TerminationSignals: Sendable {
    private let received = NIOLockedValueBox<(signal: Int32?, waiting: CheckedContinuation<Int32, Never>?)>((nil, nil))
    private let hangUpAction = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    /// Kept only to stay alive (and be cancelled in deinit); never read across threads.
    nonisolated(unsafe) private let sources: [DispatchSourceSignal]

    init(hangUps: Bool = false) {
        let queue = DispatchQueue(label: "pyrpc.signals")
        var sources: [DispatchSourceSignal] = []
        let received = self.received
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                let waiting = received.withLockedValue { state -> CheckedContinuation<Int32, Never>? in
                    guard state.signal == nil else { return nil }
                    state.signal = signalNumber
                    defer { state.waiting = nil }
                    return state.waiting
                }
                waiting?.resume(returning: signalNumber)
            }
            source.resume()
            sources.append(source)
        }
        if hangUps {
            signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
            let action = hangUpAction
            source.setEventHandler { action.withLockedValue { $0 }?() }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func onHangUp(_ action: @escaping @Sendable () -> Void) {
        hangUpAction.withLockedValue { $0 = action }
    }

    /// The first SIGINT or SIGTERM (at once if one came already).
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let early = received.withLockedValue { state -> Int32? in
                if let signal = state.signal { return signal }
                state.waiting = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    /// The next SIGINT or SIGTERM after the one `wait` returned (a second Ctrl-C cuts a drain
    /// short).
    func next() async -> Int32 {
        received.withLockedValue { $0.signal = nil }
        return await wait()
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
