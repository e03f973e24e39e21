import Foundation
import PyRPCClient
import Synchronization

/// What `pyrpc deploy` shows while scripts too big for one message go in pieces: the bytes
/// each server holds, on one line updated in place on a terminal, and otherwise (a log, CI)
/// one plain line per message.
final class DeployProgressLine: Sendable {
    private struct State {
        var sending: [String: DeployProgress] = [:]
        var order: [String] = []
        var drawn = false
    }
    private let state = Mutex(State())
    private let inPlace = isatty(STDOUT_FILENO) != 0

    func update(_ progress: DeployProgress) {
        state.withLock { state in
            let first = state.sending[progress.server] == nil
            if first { state.order.append(progress.server) }
            state.sending[progress.server] = progress
            if inPlace {
                draw(&state)
            } else if first {
                let kept = progress.bytes > 0 ? " (\(Self.megabytes(progress.bytes)) kept from an interrupted deploy)" : ""
                print("\(progress.server): sending \(Self.megabytes(progress.total)) of scripts in pieces\(kept)")
            } else {
                print("\(progress.server): \(Self.describe(progress))")
            }
            flushStandardOutput()
        }
    }

    /// `body` prints a line of its own about `server`, which stops showing progress.
    func finished(_ server: String, _ body: () -> Void) {
        state.withLock { state in
            if state.drawn { print("\r\u{1B}[K", terminator: "") }
            state.drawn = false
            state.sending[server] = nil
            state.order.removeAll { $0 == server }
            body()
            if inPlace && !state.order.isEmpty { draw(&state) }
            flushStandardOutput()
        }
    }

    private func draw(_ state: inout State) {
        let parts = state.order.compactMap { state.sending[$0] }.map { "\($0.server) \(Self.describe($0))" }
        print("\r\u{1B}[Ksending scripts: " + parts.joined(separator: " · "), terminator: "")
        state.drawn = true
    }

    /// "12.0 of 40.0 MB (30%) sent"; once all is sent, the wait is the server's compiling.
    static func describe(_ progress: DeployProgress) -> String {
        guard progress.bytes < progress.total else { return "all \(megabytes(progress.total)) sent; the server loads and checks the scripts" }
        return "\(megabytes(progress.bytes, unit: false)) of \(megabytes(progress.total)) (\(progress.bytes * 100 / progress.total)%) sent"
    }

    static func megabytes(_ bytes: Int, unit: Bool = true) -> String {
        String(format: "%.1f", Double(bytes) / 1e6) + (unit ? " MB" : "")
    }
}
