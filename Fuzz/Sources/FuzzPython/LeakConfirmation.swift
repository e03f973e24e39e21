import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs a suspect input again in a fresh process of this fuzz target (libFuzzer runs the file
/// it is given once and exits), with the leak check on for that one input: what grows there
/// grows because of the input, whatever the fuzzing process ran before.
enum LeakConfirmation {
    static let variable = "PYRPC_FUZZ_LEAK_CONFIRM"

    enum Verdict {
        /// The fresh process found the leak too; its report.
        case confirmed(String)
        /// It did not; where the input was kept (`PYRPC_FUZZ_KEEP_DIR`), if anywhere.
        case notReproduced(keptAs: String?)
        case failed(String)
    }

    static func check(_ input: UnsafeRawBufferPointer) -> Verdict {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let stem = "\(directory)/pyrpc-leak-\(getpid())-\(LeakCheck.counter)"
        let (inputPath, logPath) = (stem + ".input", stem + ".log")
        defer {
            unlink(inputPath)
            unlink(logPath)
        }
        guard write(input, to: inputPath) else { return .failed("cannot write \(inputPath)") }
        guard let status = runFresh(inputPath, log: logPath) else { return .failed("cannot start \(executable())") }
        let report = read(logPath)
        if status == 0 { return .notReproduced(keptAs: keep(input)) }
        guard report.contains("MISMATCH") else {
            return .failed("it exited with status \(status) without a verdict:\n\(report.suffix(4000))")
        }
        return .confirmed(report.split(separator: "\n").filter { $0.hasPrefix("MISMATCH") || $0.hasPrefix("input") }.joined(separator: "\n") + "\n")
    }

    /// The exit status of this program run on `path` alone, its output in `log`; nil when it
    /// could not start.
    private static func runFresh(_ path: String, log: String) -> Int32? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = [executable(), path]
        var environment = environ(adding: "\(variable)=1")
        defer { for pointer in environment { free(pointer) } }
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        guard posix_spawn(&pid, executable(), &actions, nil, &argv, &environment) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return status
    }

    private static func executable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/proc/self/exe"
    }

    /// This process's environment with `entry` added, as `posix_spawn` takes it.
    private static func environ(adding entry: String) -> [UnsafeMutablePointer<CChar>?] {
        var list: [UnsafeMutablePointer<CChar>?] = []
        var cursor = Glibc.environ
        while let pointer = cursor.pointee {
            list.append(strdup(pointer))
            cursor += 1
        }
        return list + [strdup(entry), nil]
    }

    /// Keeps an unconfirmed input in the corpus the run grows (`scripts/fuzz` names it), so
    /// later runs start from it too.
    private static func keep(_ input: UnsafeRawBufferPointer) -> String? {
        guard let directory = getenv("PYRPC_FUZZ_KEEP_DIR").map({ String(cString: $0) }) else { return nil }
        let path = "\(directory)/unconfirmed-leak-\(base64(input).prefix(24).replacingOccurrences(of: "/", with: "_"))"
        return write(input, to: path) ? path : nil
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to path: String) -> Bool {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    private static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func base64(_ input: UnsafeRawBufferPointer) -> String {
        Data(input).base64EncodedString()
    }
}
