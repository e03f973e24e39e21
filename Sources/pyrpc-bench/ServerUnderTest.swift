import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A server process the benchmark drives: pyrpc itself (plaintext or TLS), the C ceiling, the
/// Python baseline, or gRPC-Python.
/// Pinned to core 0 when the machine has two or more cores (the load generator takes core 1).
final class ServerUnderTest {
    let name: String
    let port: Int
    let process: Process
    /// A supervisor (`pyrpc serve`): its CPU and memory include its worker processes'.
    let withChildren: Bool

    var pid: Int32 { process.processIdentifier }

    /// A TLS server: the CA its certificate is signed by, which its clients verify it against.
    var tlsCA: [UInt8]?
    /// A gRPC server: its load comes from this Python client instead of the Swift generator,
    /// which speaks no HTTP/2.
    var grpcClient: GRPCClient?

    private init(name: String, port: Int, process: Process, withChildren: Bool) {
        self.name = name
        self.port = port
        self.process = process
        self.withChildren = withChildren
    }

    /// Whether servers go to core 0 (set once by `Bench` before any server starts).
    nonisolated(unsafe) static var pinning = false

    static func launch(name: String, port: Int, command: [String], log: URL, pinned: Bool = pinning, withChildren: Bool = false) throws -> ServerUnderTest {
        let process = Process()
        // Core 0; or, unpinned while this process is pinned to core 1 (the load generator),
        // every core again: a child inherits its parent's affinity.
        let cores = pinned ? "0" : pinning ? "0-\(max(0, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1))" : nil
        process.executableURL = URL(fileURLWithPath: cores != nil ? "/usr/bin/taskset" : command[0])
        process.arguments = cores.map { ["-c", $0] + command } ?? Array(command.dropFirst())
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        pyrpc_children_add(process.processIdentifier)
        let server = ServerUnderTest(name: name, port: port, process: process, withChildren: withChildren)
        guard server.waitUntilListening() else {
            server.stop()
            throw BenchError("\(name) did not start listening on port \(port); see \(log.path)")
        }
        return server
    }

    private func waitUntilListening(timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, process.isRunning {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = connectToLoopback(fd, port: port)
            close(fd)
            if connected { return true }
            usleep(50_000)
        }
        return false
    }

    private var processes: [Int32] { withChildren ? [pid] + ProcessProbe.children(pid) : [pid] }
    var cpuNanoseconds: UInt64 { processes.map(ProcessProbe.cpuNanoseconds).reduce(0, +) }
    var userNanoseconds: UInt64 { processes.map(ProcessProbe.userNanoseconds).reduce(0, +) }
    var residentBytes: Int { processes.map(ProcessProbe.residentBytes).reduce(0, +) }
    /// Every thread of its processes now (thread ids are unique across processes).
    var threadClocks: [Int32: ThreadClock] { processes.map(ThreadClock.all).reduce(into: [:]) { $0.merge($1) { first, _ in first } } }
    var supervisorResidentBytes: Int { ProcessProbe.residentBytes(pid) }

    /// SIGTERM, then SIGKILL after two seconds: a child can inherit a signal mask that blocks
    /// SIGTERM from this (multi-threaded) process, and a lingering server would skew the next run.
    func stop() {
        defer { pyrpc_children_remove(pid) }
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A TCP port nothing listens on right now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
