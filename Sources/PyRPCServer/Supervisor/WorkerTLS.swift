import Foundation
import PyRPCTLS

#if canImport(Glibc)
import Glibc
#endif

/// How a worker gets its TLS certificate and key from its supervisor: the files' contents as
/// the supervisor last read them, in the worker's environment, read and removed before any
/// script runs (processes a script starts must not inherit a private key).
public enum WorkerTLS {
    static let variable = "PYRPC_WORKER_TLS"

    static func environment(_ material: TLSMaterial?) -> [String: String] {
        guard let material, let json = try? JSONEncoder().encode(material) else { return [:] }
        return [variable: String(decoding: json, as: UTF8.self)]
    }

    /// What the supervisor handed this worker; nil: none (plain TCP, or a server on its own).
    public static func take() throws -> TLSMaterial? {
        guard let text = ProcessInfo.processInfo.environment[variable] else { return nil }
        unsetenv(variable)
        return try JSONDecoder().decode(TLSMaterial.self, from: Data(text.utf8))
    }
}
