import Foundation

/// Where a server's CPU goes, thread by thread: the per-process figure says how much a call
/// costs, this says which thread pays it. (The watchdog that cost every call 23 µs of context
/// switches a look was found this way, by hand, after hiding under 2% of a profile.)
struct ThreadClock {
    let name: String
    let cpuNanoseconds: UInt64
    /// Voluntary and involuntary context switches.
    let switches: UInt64

    /// Every thread of `pid` now, by thread id: its name, CPU time (schedstat) and switches.
    static func all(_ pid: Int32) -> [Int32: ThreadClock] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var clocks: [Int32: ThreadClock] = [:]
        for task in tasks {
            guard let tid = Int32(task) else { continue }
            let folder = "/proc/\(pid)/task/\(task)"
            guard let name = try? String(contentsOfFile: "\(folder)/comm", encoding: .utf8),
                let schedstat = try? String(contentsOfFile: "\(folder)/schedstat", encoding: .utf8),
                let cpu = schedstat.split(separator: " ").first.flatMap({ UInt64($0) }),
                let status = try? String(contentsOfFile: "\(folder)/status", encoding: .utf8)
            else { continue }  // the thread ended meanwhile
            let switches = status.split(separator: "\n")
                .filter { $0.hasPrefix("voluntary_ctxt_switches:") || $0.hasPrefix("nonvoluntary_ctxt_switches:") }
                .compactMap { $0.split(separator: ":").last.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } }
                .reduce(0, +)
            clocks[tid] = ThreadClock(name: name.trimmingCharacters(in: .whitespacesAndNewlines), cpuNanoseconds: cpu, switches: switches)
        }
        return clocks
    }
}

/// What the threads of one kind (one name, its trailing number aside: `io-s1-0` and
/// `io-s1-1` are `io-s1-#`) used between two readings.
struct ThreadUse: Equatable {
    var threads = 0
    var cpuNanoseconds: UInt64 = 0
    var switches: UInt64 = 0

    /// Another turn of the same threads: their time adds up, their number does not.
    mutating func add(_ other: ThreadUse) {
        threads = max(threads, other.threads)
        cpuNanoseconds += other.cpuNanoseconds
        switches += other.switches
    }

    /// Other threads, counted in with these.
    mutating func include(_ other: ThreadUse) {
        threads += other.threads
        cpuNanoseconds += other.cpuNanoseconds
        switches += other.switches
    }

    /// By kind, the threads that ran between `before` and `after` (a thread started meanwhile
    /// counts from zero; one that ended meanwhile is missing, as /proc no longer lists it).
    static func between(_ before: [Int32: ThreadClock], _ after: [Int32: ThreadClock]) -> [String: ThreadUse] {
        var uses: [String: ThreadUse] = [:]
        for (tid, now) in after {
            let then = before[tid].flatMap { $0.name == now.name ? $0 : nil }
            let cpu = now.cpuNanoseconds - min(now.cpuNanoseconds, then?.cpuNanoseconds ?? 0)
            let switches = now.switches - min(now.switches, then?.switches ?? 0)
            guard cpu > 0 || switches > 0 else { continue }
            uses[kind(now.name), default: ThreadUse()].include(ThreadUse(threads: 1, cpuNanoseconds: cpu, switches: switches))
        }
        return uses
    }

    /// A thread's name with a trailing number after a `-` as `#`.
    static func kind(_ name: String) -> String {
        guard let dash = name.lastIndex(of: "-"), name.index(after: dash) < name.endIndex,
            name[name.index(after: dash)...].allSatisfy(\.isNumber)
        else { return name }
        return name[...dash] + "#"
    }
}
