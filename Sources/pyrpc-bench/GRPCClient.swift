import CLinux
import Foundation

/// benchmarks/grpc/client.py for one gRPC server: the closed loop of the Swift load
/// generator, in Python, since that one speaks no HTTP/2. The client warms up, says
/// "ready" and waits; the server's CPU time is read then and after the run, so that the
/// client's start (importing grpc) and warm-up stay out of the figure, as the Swift warm-up does.
struct GRPCClient {
    let python: String
    let script: String
    /// The CA to verify a TLS server with; nil: plaintext.
    let ca: String?
    /// Where the client's errors go.
    let log: URL

    /// The calls server.py answers.
    enum Call: String {
        case add, total
    }

    func sample(_ server: ServerUnderTest, call: Call, mode: LoadGenerator.Mode, concurrency: Int,
                duration: Double?, calls: Int?) -> BenchSuite.Sample {
        var command = [python, script, "127.0.0.1:\(server.port)", call.rawValue, mode == .persistent ? "persistent" : "one-shot",
                       "--concurrency", "\(concurrency)", "--warmup", "\(max(concurrency * 20, 50))", "--wait"]
        if let duration { command += ["--duration", "\(duration)"] }
        if let calls { command += ["--calls", "\(calls)"] }
        if let ca { command += ["--tls-ca", ca] }
        // On the load generator's core, as the Swift generator's threads are.
        if ServerUnderTest.pinning { command = ["/usr/bin/taskset", "-c", "1"] + command }
        do {
            return try measure(server, command: command)
        } catch {
            say("gRPC client for \(server.name) failed: \(error); see \(log.path)")
            var failed = BenchSuite.Sample()
            failed.load.failures = 1
            return failed
        }
    }

    private func measure(_ server: ServerUnderTest, command: [String]) throws -> BenchSuite.Sample {
        let input = Pipe()
        let output = Pipe()
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let errors = try FileHandle(forWritingTo: log)
        defer { try? errors.close() }
        errors.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        pyrpc_children_add(process.processIdentifier)
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            pyrpc_children_remove(process.processIdentifier)
        }
        var lines = LineReader(output.fileHandleForReading)
        guard lines.next() == "ready" else { throw BenchError("the client ended before its warm-up was done") }
        let cpuBefore = server.cpuNanoseconds
        let userBefore = server.userNanoseconds
        input.fileHandleForWriting.write(Data("go\n".utf8))
        guard let json = lines.next() else { throw BenchError("the client printed no result") }
        let sample = BenchSuite.Sample(
            load: try Self.loadResult(json), cpuNanoseconds: server.cpuNanoseconds - cpuBefore,
            userNanoseconds: server.userNanoseconds - userBefore)
        return sample
    }

    /// The client's JSON line as the Swift generator's result.
    private static func loadResult(_ line: String) throws -> LoadResult {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let calls = object["calls"] as? Int, let failures = object["failures"] as? Int,
            let seconds = object["seconds"] as? Double, let latencies = object["latencies"] as? [Double]
        else { throw BenchError("unexpected client output: \(line.prefix(200))") }
        var result = LoadResult()
        result.calls = calls
        result.failures = failures
        result.seconds = seconds
        result.latencies = latencies
        return result
    }

    /// Lines from a pipe, read as they come.
    private struct LineReader {
        let handle: FileHandle
        var buffered = Data()

        init(_ handle: FileHandle) { self.handle = handle }

        mutating func next() -> String? {
            while true {
                if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                    buffered = Data(buffered[(newline + 1)...])
                    return line
                }
                let chunk = handle.availableData
                if chunk.isEmpty { return nil }
                buffered.append(chunk)
            }
        }
    }
}
