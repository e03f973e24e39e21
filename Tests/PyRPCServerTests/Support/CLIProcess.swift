import Foundation

#if canImport(Glibc)
import Glibc
#endif
// Socket constants (SOCK_STREAM...): a clean build of this module finds them only through
// CLinux (Swift 6.3), since another file of it imports CLinux.
import CLinux

/// Runs the real `pyrpc` binary: the one `PYRPC_BINARY` names (`.ci/run` points it at the
/// release build, the binary users run), else the one built next to the test bundle.
enum CLIProcess {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: String {
        if let chosen = ProcessInfo.processInfo.environment["PYRPC_BINARY"], !chosen.isEmpty { return chosen }
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        // The xctest bundle may be a folder: walk up to the build folder that holds `pyrpc`.
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("pyrpc").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return "pyrpc"
    }

    /// Runs to completion and captures output (of `pyrpc`, or of `executable`).
    static func run(_ arguments: [String], in folder: URL? = nil, executable: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? binary)
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = folder }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Starts a long-running command (`up`, `serve`) with output going to files.
    /// `prefix` runs the binary under another command (e.g. `taskset -c 0`); `executable`
    /// runs another binary than `pyrpc`.
    static func start(
        _ arguments: [String], in folder: URL, logName: String = "server", prefix: [String] = [], environment: [String: String] = [:],
        executable: String? = nil
    ) throws -> Process {
        let process = Process()
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let tool = prefix.first {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = Array(prefix.dropFirst()) + [executable ?? binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable ?? binary)
            process.arguments = arguments
        }
        process.currentDirectoryURL = folder
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("\(logName).out").path, contents: nil)
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("\(logName).err").path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: folder.appendingPathComponent("\(logName).out"))
        process.standardError = try FileHandle(forWritingTo: folder.appendingPathComponent("\(logName).err"))
        try process.run()
        return process
    }

    /// Waits until `file` (a started command's output) contains `text`; gives up early when
    /// `process` has exited.
    static func waitForOutput(_ text: String, in file: URL, of process: Process? = nil, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let data = try? Data(contentsOf: file), String(decoding: data, as: UTF8.self).contains(text) { return true }
            if let process, !process.isRunning { return false }
            usleep(20_000)
        }
        return false
    }

    /// The text of a file a started command wrote (for failure messages).
    static func contents(_ file: URL) -> String {
        (try? Data(contentsOf: file)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// A TCP port nothing listens on right now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts connections on the port.
    static func waitForPort(_ port: Int, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? RawSocket(host: "127.0.0.1", port: port, timeout: 1))?.close() != nil { return true }
            usleep(100_000)
        }
        return false
    }
}
