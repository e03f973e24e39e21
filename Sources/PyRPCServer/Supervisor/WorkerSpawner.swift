import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts worker processes: this same executable, started fresh with `posix_spawn` (never a
/// `fork()` of a process with threads and an interpreter), with the shared listening socket
/// as descriptor 3, its end of a control socket pair as descriptor 4, its scoreboard as 5 and
/// its stats board as 6.
enum WorkerSpawner {
    static let listenerDescriptor: Int32 = 3
    static let controlDescriptor: Int32 = 4

    struct Spawned {
        let pid: pid_t
        /// The supervisor's end of the control socket pair.
        let control: Int32
        /// What the worker's threads are running (`Scoreboard`); -1 if none could be made.
        let scoreboard: Int32
        /// What its overloads counted (`StatsBoard`); -1 if none could be made.
        let statsBoard: Int32
    }

    /// `arguments` follow the executable's name; `environment` is added to the supervisor's.
    /// The worker finds its descriptors itself.
    static func spawn(arguments: [String], environment extra: [String: String] = [:], listener: Int32) throws -> Spawned {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SocketError("cannot create a control socket for a worker", errno: errno)
        }
        // Copies above the descriptors dup2 targets (dup2(3, 3) would keep close-on-exec set),
        // yet low: the descriptor limit may be small.
        let listenerCopy = fcntl(listener, F_DUPFD_CLOEXEC, controlDescriptor + 1)
        let controlCopy = fcntl(pair[1], F_DUPFD_CLOEXEC, controlDescriptor + 1)
        close(pair[1])
        // Above 6 (dup2 onto 5 and 6 comes last, after the copies that may sit there were read).
        let scoreboard = Self.moveAbove(StatsBoard.descriptor, Scoreboard.create())
        let statsBoard = Self.moveAbove(StatsBoard.descriptor, StatsBoard.create())
        func closeBoards() {
            if scoreboard >= 0 { close(scoreboard) }
            if statsBoard >= 0 { close(statsBoard) }
        }
        defer {
            if listenerCopy >= 0 { close(listenerCopy) }
            if controlCopy >= 0 { close(controlCopy) }
        }
        guard listenerCopy >= 0, controlCopy >= 0 else {
            close(pair[0])
            closeBoards()
            throw SocketError("cannot pass descriptors to a worker", errno: errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, listenerCopy, listenerDescriptor)
        posix_spawn_file_actions_adddup2(&actions, controlCopy, controlDescriptor)
        if scoreboard >= 0 { posix_spawn_file_actions_adddup2(&actions, scoreboard, Scoreboard.descriptor) }
        if statsBoard >= 0 { posix_spawn_file_actions_adddup2(&actions, statsBoard, StatsBoard.descriptor) }
        // The worker starts with default signal handling and nothing blocked, whatever thread
        // of the supervisor starts it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signalNumber) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([CommandLine.arguments.first ?? "pyrpc"] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environment = Self.environment.merging(extra) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in environment { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, Self.executable, &actions, &attributes, argv, environment)
        guard status == 0 else {
            close(pair[0])
            closeBoards()
            throw SocketError("cannot start a worker process", errno: status)
        }
        return Spawned(pid: pid, control: pair[0], scoreboard: scoreboard, statsBoard: statsBoard)
    }

    /// `fd` moved to a descriptor above `floor` (close-on-exec), or -1.
    private static func moveAbove(_ floor: Int32, _ fd: Int32) -> Int32 {
        guard fd >= 0 else { return -1 }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, floor + 1)
        close(fd)
        return moved
    }

    /// The supervisor's own binary, by its path (workers then show as `pyrpc` in `ps`); if it
    /// was replaced on disk since (a rebuild), still the one running, through /proc.
    private static let executable: String = {
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        let resolved = length > 0 ? String(decoding: path[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return resolved.isEmpty || resolved.hasSuffix(" (deleted)") ? "/proc/self/exe" : resolved
    }()

    /// The supervisor's environment, without Swift's crash backtracer: a worker that crashes
    /// in a script logs Python's traceback (`writeCrashTracebacks`), which then hands the
    /// signal on; the backtracer, handed a crash in a process full of Python threads, at times
    /// never finished, leaving a dead worker that did not exit.
    private static let environment: [String: String] = {
        var variables = ProcessInfo.processInfo.environment
        variables["SWIFT_BACKTRACE"] = "enable=no"
        return variables
    }()

    /// "killed by SIGSEGV", "exited with status 3".
    static func describe(status: Int32) -> String {
        if let code = exitCode(status: status) { return "exited with status \(code)" }
        let name = signalName(status & 0x7f)
        return "killed by \(name)\(status & 0x80 != 0 ? " (core dumped)" : "")"
    }

    /// "SIGSEGV".
    static func signalName(_ number: Int32) -> String {
        signalNames[number].map { "SIG\($0)" } ?? "signal \(number)"
    }

    /// The exit status of a process that exited (`waitpid`'s `status`); nil if a signal killed it.
    static func exitCode(status: Int32) -> Int32? {
        status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }

    private static let signalNames: [Int32: String] = [
        SIGHUP: "HUP", SIGINT: "INT", SIGQUIT: "QUIT", SIGILL: "ILL", SIGTRAP: "TRAP", SIGABRT: "ABRT",
        SIGBUS: "BUS", SIGFPE: "FPE", SIGKILL: "KILL", SIGUSR1: "USR1", SIGSEGV: "SEGV", SIGUSR2: "USR2",
        SIGPIPE: "PIPE", SIGALRM: "ALRM", SIGTERM: "TERM", SIGXCPU: "XCPU", SIGXFSZ: "XFSZ", SIGSYS: "SYS",
    ]
}
