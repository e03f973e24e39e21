import Foundation
import PyRPCServer

#if canImport(Glibc)
import Glibc
#endif

/// What a worker process runs with, from its supervisor: the server's options as the
/// supervisor's flags made them, and the log level — so a flag is read in one place, and a
/// worker never parses the flags again. It travels in the worker's environment, read and
/// removed before any script runs: the deploy token is among the options, and processes a
/// script starts must not inherit it.
struct WorkerSettings: Codable {
    var options: ServerOptions
    var logLevel: String

    static let variable = "PYRPC_WORKER_SETTINGS"

    /// The worker's environment entry.
    var environment: [String: String] {
        let json = (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [Self.variable: json]
    }

    /// The settings this worker was started with, taken out of its environment.
    static func take() throws -> WorkerSettings {
        guard let text = ProcessInfo.processInfo.environment[variable] else {
            throw CLIExit.usage("--worker is how a supervisor starts its workers; run `pyrpc serve NAME --processes N` instead")
        }
        unsetenv(variable)
        do {
            return try JSONDecoder().decode(WorkerSettings.self, from: Data(text.utf8))
        } catch {
            throw CLIExit.usage("unreadable worker settings from the supervisor (a different pyrpc version?): \(error)")
        }
    }
}
