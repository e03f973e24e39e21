import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and memory of another process, read from /proc.
enum ProcessProbe {
    /// CPU time (user + system) of every thread of `pid`, in nanoseconds, from
    /// /proc/PID/task/*/schedstat (nanosecond resolution, unlike /proc/PID/stat's ticks).
    static func cpuNanoseconds(_ pid: Int32) -> UInt64 {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var total: UInt64 = 0
        for task in tasks {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8),
                let first = text.split(separator: " ").first, let value = UInt64(first)
            else { continue }
            total += value
        }
        // Threads that already exited are counted in /proc/PID/stat (ticks); add them.
        return max(total, statTicksNanoseconds(pid))
    }

    /// utime + stime from /proc/PID/stat, in nanoseconds.
    static func statTicksNanoseconds(_ pid: Int32) -> UInt64 {
        statTimes(pid).map { $0.user + $0.system } ?? 0
    }

    /// User-space CPU time (utime) from /proc/PID/stat, in nanoseconds.
    static func userNanoseconds(_ pid: Int32) -> UInt64 {
        statTimes(pid)?.user ?? 0
    }

    /// utime and stime of every thread, exited ones included, in nanoseconds (10 ms ticks).
    private static func statTimes(_ pid: Int32) -> (user: UInt64, system: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime is 14, stime 15 (1-based) → offsets 11, 12.
        guard fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        let nanosecondsPerTick = 1_000_000_000 / max(UInt64(sysconf(Int32(_SC_CLK_TCK))), 1)
        return (user * nanosecondsPerTick, system * nanosecondsPerTick)
    }

    /// Resident set size in bytes.
    static func residentBytes(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return digits * 1024
        }
        return 0
    }

    /// Pins every thread of this process (and threads started later) to `cores`, with
    /// taskset (glibc's sched_setaffinity is not visible to Swift without _GNU_SOURCE).
    static func pinSelf(to cores: [Int]) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = ["-a", "-p", "-c", cores.map(String.init).joined(separator: ","), "\(getpid())"]
        process.standardOutput = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
    }

    static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The child processes of `pid`.
    static func children(_ pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int32($0) }
        }
    }

    static func descriptorCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? 0
    }

    /// Whether `pid` has exited and waits to be reaped.
    static func isZombie(_ pid: Int32) -> Bool {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex else { return false }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }
}

/// Prints a line and flushes it at once (stdout is a pipe under `swift run | tee`).
func say(_ line: String) {
    print(line)
    fflush(nil)
}
