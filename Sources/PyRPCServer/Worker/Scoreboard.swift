import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// What each thread of a worker process is running (a call, or a script it loads), in memory
/// the worker shares with its supervisor (see `pyrpc_scoreboard_enter` in CLinux). After a
/// worker died, the supervisor reads what it was doing: `os._exit` in a script or the kernel's
/// OOM kill leave the worker no chance to say it.
public enum Scoreboard {
    /// A worker's scoreboard, as the supervisor passes it (see `WorkerSpawner`).
    static let descriptor: Int32 = 5

    /// In a worker: maps the scoreboard its supervisor passed, if any.
    public static func attach() {
        // Only a file of the scoreboard's size: descriptor 5 of a process started otherwise
        // is none of this code's business.
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size == size else { return }
        guard pyrpc_scoreboard_attach(descriptor) == 0 else { return }
        // Before Python's faulthandler, which then hands each fatal signal on to the rescue.
        _ = pyrpc_crash_rescue_install()
    }

    /// This thread starts running `label` (until `leave`).
    @inline(__always)
    static func enter(_ label: String) {
        var label = label
        label.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { pyrpc_scoreboard_enter($0.baseAddress, bytes.count) }
        }
    }

    @inline(__always)
    static func leave() {
        pyrpc_scoreboard_leave()
    }

    private static let size = MemoryLayout<pyrpc_scoreboard_slot>.stride * Int(PYRPC_SCOREBOARD_SLOTS)

    /// In the supervisor: a new scoreboard for a worker about to start; -1 if none could be made
    /// (the worker then runs without one).
    static func create() -> Int32 {
        pyrpc_scoreboard_create()
    }

    /// What the dead worker's threads were doing, longest first: "running svc.f(int) -> (int)
    /// for 2.1 s", "loading services/f.py for 0.1 s".
    static func read(_ fd: Int32) -> [String] {
        guard fd >= 0 else { return [] }
        var slots = [pyrpc_scoreboard_slot](repeating: pyrpc_scoreboard_slot(), count: Int(PYRPC_SCOREBOARD_SLOTS))
        guard slots.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, size, 0) }) == size else { return [] }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowNanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        return slots.filter { $0.active == 1 }.sorted { $0.started_ns < $1.started_ns }.map { slot in
            var label = slot.label
            let text = withUnsafeBytes(of: &label) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            let seconds = Double(nowNanoseconds - slot.started_ns) / 1e9
            return "\(text.hasPrefix("loading ") ? "" : "running ")\(text) for \((seconds * 10).rounded() / 10) s"
        }
    }
}
