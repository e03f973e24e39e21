import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a script may do to the process that hosts it, and how the server keeps serving
/// anyway (SPEC §8: nothing a script does to its process may change what another client
/// receives):
/// - closing 0, 1 or 2: descriptors stay filled (with /dev/null) and no socket of the
///   server is ever moved onto them (`pyrpc_fd_above_stdio`), so nothing written to
///   "standard output" can reach a client; the log has a descriptor of its own (`LogFile`);
/// - `os.fork()`: the child closes every descriptor of the server (they are marked), dies with
///   the server, and if it returns into the server's code it exits at once and is reaped
///   here — it never answers a call (`pyrpc_end_forked_child`);
/// - `chdir` and `setlocale`: paths are made absolute at start, numbers parse in "C".
enum ProcessGuard {
    /// Runs once per process, before the first server listens.
    static func start() {
        _ = started
    }

    /// The descriptor limit, raised to the hard limit at start (nil: unlimited).
    static let descriptorLimit: Int? = {
        let limit = pyrpc_raise_descriptor_limit()
        return limit < 0 ? nil : limit
    }()

    private static let started: Bool = {
        _ = descriptorLimit
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
            let null = open("/dev/null", O_RDWR)
            if null >= 0, null != fd {
                dup2(null, fd)
                close(null)
            }
        }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            pyrpc_process_started(-1)
            return true
        }
        let (readEnd, writeEnd) = (pyrpc_fd_above_stdio(ends[0]), pyrpc_fd_above_stdio(ends[1]))
        for fd in [readEnd, writeEnd] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        pyrpc_process_started(writeEnd)
        // Forked children that came back into the server's code report their pid here
        // before exiting; waiting for exactly those leaves no zombie and never takes a child
        // that a script's own code (multiprocessing) will wait for.
        let reaper = Thread {
            pyrpc_name_thread("reaper")
            var pid: pid_t = 0
            while read(readEnd, &pid, MemoryLayout<pid_t>.size) == MemoryLayout<pid_t>.size {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            }
        }
        reaper.start()
        return true
    }()
}
