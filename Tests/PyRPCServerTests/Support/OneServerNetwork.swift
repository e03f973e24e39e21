import Foundation

/// init.yaml for server s1 on `port` with client c1, and `rpcs` `(name, args, returns, src)`
/// all in service `svc`; `timeout` applies to each.
func oneServerNetwork(port: Int, rpcs: [(String, String, String, String)], timeout: Int? = nil) -> String {
    var text = """
        network:
          servers:
            - s1: {ip: 127.0.0.1, port: \(port)}
          clients:
            - c1: {ip: 127.0.0.1}
        service:
          - svc: {providers: [s1], tenants: [c1], rpcs: [\(rpcs.map(\.0).joined(separator: ", "))]}
        rpc:

        """
    for (name, args, returns, src) in rpcs {
        text += "  - \(name): {args: \(args), returns: \(returns), src: \(src)\(timeout.map { ", timeout: \($0)" } ?? "")}\n"
    }
    return text
}

/// Whether `pid` runs (a zombie waiting to be reaped does not).
func processRuns(_ pid: Int32) -> Bool {
    let stat = CLIProcess.contents(URL(fileURLWithPath: "/proc/\(pid)/stat"))
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// The children of process `pid` (from /proc).
func childProcesses(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
        CLIProcess.contents(URL(fileURLWithPath: "/proc/\(pid)/task/\(task)/children")).split(separator: " ").compactMap { Int32($0) }
    }
}

/// The process that serves calls for `pyrpc serve` process `pid`: its worker (by default it
/// runs one, under the supervisor `pid`), or `pid` itself with `--processes 0`.
func servingProcess(of pid: Int32, timeout: Double = 30) -> Int32 {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let children = childProcesses(of: pid)
        if children.count == 1 { return children[0] }
        usleep(20_000)
    }
    return pid
}
