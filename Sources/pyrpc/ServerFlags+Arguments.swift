import Foundation

extension ServerFlags {
    /// These flags as command-line arguments: how `pyrpc up` passes its own to the worker
    /// processes it starts (`pyrpc serve NAME --worker ...`).
    var arguments: [String] {
        var list = [
            "--max-message-bytes", "\(maxMessageBytes)", "--idle-timeout", "\(idleTimeout)",
            "--call-timeout", "\(callTimeout)", "--max-pending", "\(maxPending)", "--workers", "\(workers)",
            "--shutdown-grace", "\(shutdownGrace)", "--log-level", logLevel,
            "--max-connections", "\(maxConnections)", "--max-connections-per-ip", "\(maxConnectionsPerIP)",
            "--max-buffered-bytes", "\(maxBufferedBytes)", "--message-timeout", "\(messageTimeout)",
            "--harakiri-grace", "\(harakiriGrace)",
        ]
        if debug { list.append("--debug") }
        if let deployTokenFile { list += ["--deploy-token-file", Self.absolute(deployTokenFile)] }
        if let venv { list += ["--venv", Self.absolute(venv)] }
        if let maxRequests { list += ["--max-requests", "\(maxRequests)"] }
        if let maxRSS { list += ["--max-rss", "\(maxRSS)"] }
        return list
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
