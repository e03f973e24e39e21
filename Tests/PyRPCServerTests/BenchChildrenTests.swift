import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc-bench` starts its servers through Foundation's `Process`, which gives each a process
/// group of its own: a Ctrl-C in a terminal reaches the benchmark alone. Its servers must die
/// with it however it ends (a signal, or a crash), not keep a core busy under the next run.
final class BenchChildrenTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-children-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    func testServersDieWhenTheBenchIsTerminated() throws {
        try checkServersDie(sending: SIGTERM) { reason, status in reason == .uncaughtSignal && status == SIGTERM }
    }

    func testServersDieWhenTheBenchIsInterrupted() throws {
        try checkServersDie(sending: SIGINT) { reason, status in reason == .uncaughtSignal && status == SIGINT }
    }

    /// A crash signal sent from outside ends the bench by its default action (a fault inside
    /// goes to Swift's backtracer instead, which reports it first; that path was checked by
    /// hand with a division by zero, since nothing outside can make the bench fault).
    func testServersDieWhenTheBenchGetsACrashSignal() throws {
        try checkServersDie(sending: SIGSEGV) { reason, status in reason == .uncaughtSignal && status == SIGSEGV }
    }

    /// Starts the benchmark, waits until its pyrpc server listens, sends `signal`, and checks
    /// that the benchmark ended as `expected` says and that no process under it outlived it.
    private func checkServersDie(
        sending signal: Int32, file: StaticString = #filePath, line: UInt = #line,
        ended expected: (Process.TerminationReason, Int32) -> Bool
    ) throws {
        let bench = URL(fileURLWithPath: CLIProcess.binary).deletingLastPathComponent().appendingPathComponent("pyrpc-bench")
        guard FileManager.default.isExecutableFile(atPath: bench.path) else { throw XCTSkip("no pyrpc-bench next to \(CLIProcess.binary)") }
        let process = try CLIProcess.start(
            ["--only", "add", "--skip-comparisons", "--no-pinning", "--duration", "30", "--output", folder.appendingPathComponent("report.md").path],
            in: folder, logName: "bench", executable: bench.path)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let benchPID = process.processIdentifier
        let log = folder.appendingPathComponent("bench.err")
        guard let server = waitForListeningServer(of: benchPID, timeout: 120) else {
            return XCTFail("the bench's server never listened; its log:\n\(CLIProcess.contents(log))", file: file, line: line)
        }
        if signal == SIGINT, ignores(SIGINT, benchPID) {
            throw XCTSkip("SIGINT is ignored here (as in a background job), so the bench rightly keeps running on it")
        }
        let underBench = descendants(of: benchPID)
        XCTAssertTrue(underBench.contains(server), file: file, line: line)
        defer {
            for pid in underBench where processRuns(pid) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: "/tmp/pyrpc-bench-\(benchPID)")
        }

        kill(benchPID, signal)
        let exited = Date().addingTimeInterval(30)
        while process.isRunning, Date() < exited { usleep(20_000) }
        XCTAssertFalse(process.isRunning, "the bench did not end on signal \(signal)", file: file, line: line)
        guard !process.isRunning else { return }
        XCTAssertTrue(
            expected(process.terminationReason, process.terminationStatus),
            "the bench ended by \(process.terminationReason) \(process.terminationStatus); its log:\n\(CLIProcess.contents(log).suffix(2000))", file: file, line: line)

        // SIGKILLed at once; a supervisor's workers follow when the bench's connections close.
        let gone = Date().addingTimeInterval(15)
        while underBench.contains(where: processRuns), Date() < gone { usleep(20_000) }
        let survivors = underBench.filter(processRuns)
        XCTAssertEqual(survivors, [], "outlived the bench: \(survivors.map(commandLine))", file: file, line: line)
    }

    /// The pid of the bench's `serve-child` once its port accepts connections. By then the
    /// bench has counted it among the children that die with it (right after starting it).
    private func waitForListeningServer(of bench: Int32, timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, processRuns(bench) {
            for child in childProcesses(of: bench) {
                let arguments = commandLine(child)
                guard arguments.contains("serve-child"), let flag = arguments.firstIndex(of: "--port"),
                    flag + 1 < arguments.count, let port = Int(arguments[flag + 1])
                else { continue }
                if CLIProcess.waitForPort(port, timeout: max(0, deadline.timeIntervalSinceNow)) { return child }
            }
            usleep(50_000)
        }
        return nil
    }

    private func descendants(of pid: Int32) -> [Int32] {
        childProcesses(of: pid).flatMap { [$0] + descendants(of: $0) }
    }

    private func commandLine(_ pid: Int32) -> [String] {
        CLIProcess.contents(URL(fileURLWithPath: "/proc/\(pid)/cmdline")).split(separator: "\0").map(String.init)
    }

    /// Whether process `pid` ignores `signal` (its SigIgn mask in /proc).
    private func ignores(_ signal: Int32, _ pid: Int32) -> Bool {
        let status = CLIProcess.contents(URL(fileURLWithPath: "/proc/\(pid)/status"))
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }),
            let mask = UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }
}
