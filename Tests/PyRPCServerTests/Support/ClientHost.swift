import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A second host for a test: a network namespace joined to this one by a veth pair, the
/// server side at `serverAddress` (an address of this machine), the client host at
/// `clientAddress`. Needs root and iproute2 (`isAvailable`); `remove` takes it down.
final class ClientHost {
    let subnet = Int.random(in: 10...250)
    var namespace: String { "pyrpc-guard-\(subnet)" }
    var serverAddress: String { "10.213.\(subnet).1" }
    var clientAddress: String { "10.213.\(subnet).2" }
    /// The client host's end of the veth pair.
    var device: String { "pgn\(subnet)" }

    static var isAvailable: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    init() throws {
        let hostSide = "pgh\(subnet)"
        _ = try? ip(["netns", "del", namespace])
        try ip(["netns", "add", namespace])
        try ip(["link", "add", hostSide, "type", "veth", "peer", "name", device])
        try ip(["link", "set", device, "netns", namespace])
        try ip(["addr", "add", "\(serverAddress)/24", "dev", hostSide])
        try ip(["link", "set", hostSide, "up"])
        try ip(["netns", "exec", namespace, "ip", "addr", "add", "\(clientAddress)/24", "dev", device])
        try ip(["netns", "exec", namespace, "ip", "link", "set", device, "up"])
        try ip(["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
    }

    func remove() {
        _ = try? ip(["netns", "del", namespace])
    }

    /// Calls from the client host go out from `address` (added to it) from now on.
    func useSourceAddress(_ address: String) throws {
        try ip(["netns", "exec", namespace, "ip", "addr", "add", "\(address)/24", "dev", device])
        try ip(["netns", "exec", namespace, "ip", "route", "replace", serverAddress, "dev", device, "src", address])
    }

    @discardableResult
    func ip(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RawSocket.Failure(description: "ip \(arguments.joined(separator: " ")) failed") }
        return process.terminationStatus
    }

    /// `pyrpc ARGUMENTS` run on the client host, in `folder`, with the deploy token if given.
    func pyrpc(_ command: [String], in folder: URL, token: String? = nil) throws -> CLIProcess.Output {
        var arguments = ["netns", "exec", namespace]
        if let token { arguments += ["env", "PYRPC_DEPLOY_TOKEN=\(token)"] }
        arguments += [CLIProcess.binary] + command
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return CLIProcess.Output(status: process.terminationStatus, stdout: text, stderr: "")
    }
}
