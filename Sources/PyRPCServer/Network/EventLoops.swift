import Foundation
import NIOCore

/// How many I/O loops a server runs.
///
/// Python runs under one GIL, so at most one core's worth of it runs at a time; the loops
/// get the other cores, and there is one loop when there are one or two. Cores are counted
/// from the CPU affinity mask (`taskset`): NIO's count ignores it, which once put two loops
/// and Python on one core, preempting each other on every call.
public enum EventLoops {
    public static var count: Int { max(1, usableCores - 1) }

    /// Cores this process may run on (its affinity mask), at least 1.
    public static var usableCores: Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
              let count = countCPUs(list: line.dropFirst("Cpus_allowed_list:".count)), count > 0 else {
            return System.coreCount
        }
        return min(count, System.coreCount)
    }

    /// Counts a Linux CPU list such as `0-3,8,10-11` (7); nil if it is not one.
    static func countCPUs(list: Substring) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                total += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
                total += high - low + 1
            default:
                return nil
            }
        }
        return total
    }
}
