import Foundation

/// gRPC-Python (grpcio) as a comparison server: benchmarks/grpc/server.py runs the same
/// Python functions as pyrpc behind grpcio, and benchmarks/grpc/client.py drives it. grpcio
/// comes from PyPI, into a virtual environment made once in ~/.cache/pyrpc-bench/grpc-venv.
struct GRPCComparison {
    /// The virtual environment's python, which runs both the server and the client.
    let python: String
    let scripts: URL
    let grpcVersion: String

    /// `$XDG_CACHE_HOME/pyrpc-bench/grpc-venv`, by default under ~/.cache.
    static var venv: URL {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path).appendingPathComponent(".cache")
        return cache.appendingPathComponent("pyrpc-bench/grpc-venv")
    }

    /// Makes the virtual environment if it is not there (or lacks grpcio); throws when that
    /// cannot be done here (no venv module, PyPI out of reach).
    static func prepare(benchmarks: URL, log: URL) throws -> GRPCComparison {
        let scripts = benchmarks.appendingPathComponent("grpc")
        guard FileManager.default.fileExists(atPath: scripts.appendingPathComponent("server.py").path) else {
            throw BenchError("\(scripts.path)/server.py is missing")
        }
        let python = venv.appendingPathComponent("bin/python").path
        if let version = grpcVersion(python) { return GRPCComparison(python: python, scripts: scripts, grpcVersion: version) }
        // Half made (an install cut short): made again from nothing.
        try? FileManager.default.removeItem(at: venv)
        try FileManager.default.createDirectory(at: venv.deletingLastPathComponent(), withIntermediateDirectories: true)
        say("setting up gRPC-Python once: a virtual environment in \(venv.path) with grpcio from PyPI")
        let system = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        guard run([system, "-m", "venv", venv.path], log: log) == 0 else {
            throw BenchError("`\(system) -m venv` failed; see \(log.path)")
        }
        guard run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "grpcio"], log: log) == 0,
            let version = grpcVersion(python)
        else {
            try? FileManager.default.removeItem(at: venv)
            throw BenchError("cannot install grpcio from PyPI; see \(log.path)")
        }
        return GRPCComparison(python: python, scripts: scripts, grpcVersion: version)
    }

    /// Starts server.py, over TLS with `certificates`; pinned like every server.
    func startServer(name: String, services: URL, certificates: BenchCertificates?, log: URL) throws -> ServerUnderTest {
        let port = freePort()
        var command = [python, scripts.appendingPathComponent("server.py").path, "\(port)", services.path]
        if let certificates { command += ["--tls-cert", certificates.certificate.path, "--tls-key", certificates.key.path] }
        let server = try ServerUnderTest.launch(name: name, port: port, command: command, log: log)
        server.grpcClient = GRPCClient(python: python, script: scripts.appendingPathComponent("client.py").path,
                                       ca: certificates?.ca.path, log: log.deletingPathExtension().appendingPathExtension("client.log"))
        return server
    }

    private static func grpcVersion(_ python: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import grpc; print(grpc.__version__)"]
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `command` to its end, its output appended to `log`; its exit status.
    private static func run(_ command: [String], log: URL) -> Int32 {
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        guard let handle = try? FileHandle(forWritingTo: log) else { return -1 }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0].hasPrefix("/") ? command[0] : "/usr/bin/env")
        process.arguments = command[0].hasPrefix("/") ? Array(command.dropFirst()) : command
        process.standardOutput = handle
        process.standardError = handle
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
