import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process's processor time, resident memory, open descriptors and start, from /proc: the
/// standard `process_*` metrics, for the supervisor and each of its workers.
struct ProcessUsage: Sendable {
    var cpuSeconds = 0.0
    var residentBytes = 0
    var openDescriptors = 0
    /// Unix seconds.
    var startTime = 0.0

    private static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// When the machine booted (Unix seconds), which /proc's start times count from.
    private static let bootTime: Double = {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
        let line = text.split(separator: "\n").first { $0.hasPrefix("btime ") }
        return line.flatMap { Double($0.dropFirst(6)) } ?? 0
    }()

    /// `pid`'s usage ("self": this process's); nil once it is gone.
    init?(_ pid: String) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return nil }
        // After the command's closing parenthesis: state is field 3, so field n is at n - 3.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
        cpuSeconds = (field(14) + field(15)) / Self.ticks
        startTime = Self.bootTime + field(22) / Self.ticks
        residentBytes = Int(field(24)) * Self.pageSize
        openDescriptors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }
}
