import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve --processes N`: a supervisor and N worker processes on one listening socket.
/// Real processes, real signals, real crashes.
final class SupervisorTests: ServerProcessTestCase {
    private let scripts = [
        "who.py": "import os\n\ndef who():\n    return os.getpid()\n",
        "slow.py": "import os, time\n\ndef slow():\n    time.sleep(1)\n    return os.getpid()\n",
        "segv.py": "import ctypes\n\ndef segv():\n    ctypes.string_at(0)\n    return 0\n",
        "leave.py": "import os\n\ndef leave():\n    os._exit(3)\n",
        "abort.py": "import os\n\ndef abort():\n    os.abort()\n",
        "version.py": "def version():\n    return 'v1'\n",
        "stuck.py": "import time\n\ndef stuck():\n    time.sleep(600)\n    return 0\n",
        "vanish.py": "import os, signal\n\ndef vanish():\n    os.kill(os.getpid(), signal.SIGKILL)\n    return 0\n",
    ]

    private func network(timeout: Int? = nil) -> String {
        let rpcs = ["who", "slow", "segv", "leave", "abort", "stuck", "vanish"].map { ($0, "[]", "[int]", "\($0).py") }
        return oneServerNetwork(port: port, rpcs: rpcs + [("version", "[]", "[str]", "version.py")], timeout: timeout)
    }


    /// Under `scripts/sanitize` (the servers run under the sanitizer too).
    private var sanitized: Bool { ProcessInfo.processInfo.environment["PYRPC_SANITIZER"] != nil }



    @discardableResult
    private func serve(processes: Int, _ extra: [String] = [], timeout: Int? = nil) throws -> Process {
        try writeFiles(scripts.merging(["init.yaml": network(timeout: timeout)]) { $1 }, in: folder)
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "\(processes)"] + extra, in: folder)
        server = process
        XCTAssertTrue(wait { occurrences(of: " ready (generation") >= processes }, "workers did not start: \(log)")
        return process
    }

    private func deploy() throws -> CLIProcess.Output {
        try CLIProcess.run(["deploy"], in: folder)
    }

    private func call(_ rpc: String, returns: String = "int", on socket: RawSocket? = nil) throws -> JSONValue {
        let line = requestLine(service: "svc", rpc: rpc, arguments: [], types: [], returns: [returns]) + "\n"
        if let socket {
            try socket.send(line)
            return try JSONParser.parse(socket.readLine())
        }
        let fresh = try RawSocket(host: "127.0.0.1", port: port)
        defer { fresh.close() }
        try fresh.send(line)
        return try JSONParser.parse(fresh.readLine())
    }

    private func pid(of socket: RawSocket) throws -> Int {
        guard case .int(let pid)? = try call("who", on: socket).returnValues?.first else { throw XCTSkip("no pid") }
        return pid
    }

    /// The supervisor's worker processes, from /proc.
    private func workers(of pid: Int32) -> Set<Int32> {
        Set(childProcesses(of: pid))
    }

    /// Two connections served by different workers.
    private func connectionsOnTwoWorkers() throws -> (RawSocket, Int, RawSocket, Int) {
        let first = try RawSocket(host: "127.0.0.1", port: port)
        let firstPID = try pid(of: first)
        for _ in 0..<200 {
            let other = try RawSocket(host: "127.0.0.1", port: port)
            let otherPID = try pid(of: other)
            if otherPID != firstPID { return (first, firstPID, other, otherPID) }
            other.close()
        }
        throw XCTSkip("every connection went to worker \(firstPID)")
    }

    func testACrashingScriptTakesOnlyItsWorkerAndIsReplacedAtOnce() throws {
        let supervisor = try serve(processes: 2)
        XCTAssertEqual(try deploy().status, 0, log)
        let answers = ["segv": "killed its worker: SIGSEGV", "leave": "exited its worker with status 3 (os._exit)", "abort": "killed its worker: SIGABRT"]
        for (rpc, how) in [("segv", "killed by SIGSEGV"), ("leave", "exited with status 3"), ("abort", "killed by SIGABRT")] {
            let (survivor, survivorPID, victim, victimPID) = try connectionsOnTwoWorkers()
            defer { survivor.close(); victim.close() }
            let readyBefore = occurrences(of: " ready (generation")
            // A call in flight on the other worker finishes while this one dies.
            try survivor.send(requestLine(service: "svc", rpc: "slow", arguments: [], types: [], returns: ["int"]) + "\n")
            try victim.send(requestLine(service: "svc", rpc: rpc, arguments: [], types: [], returns: ["int"]) + "\n")
            // Its client is answered (a sanitizer catching the segfault itself may close it instead).
            if let answer = try? JSONParser.parse(victim.readLine()) {
                XCTAssertEqual(answer["value"]?["exception-message"]?.stringValue, "svc.\(rpc)() \(answers[rpc]!)")
            } else {
                XCTAssertTrue(sanitized, "\(rpc): the crashed worker's client got no answer: \(log)")
            }
            // New connections are served at once (by the survivor, then by the replacement too).
            let died = Date()
            XCTAssertEqual(try call("version", returns: "str").returnValues, [.string("v1")])
            XCTAssertLessThan(Date().timeIntervalSince(died), 1, rpc)
            XCTAssertEqual(try JSONParser.parse(survivor.readLine()).returnValues, [.int(survivorPID)], "\(rpc): the call on the other worker")
            XCTAssertTrue(wait { occurrences(of: " ready (generation") > readyBefore }, "\(rpc): no replacement started: \(log)")
            // A sanitizer catches the segfault itself and exits (status 66 or 1) instead.
            XCTAssertTrue(log.contains("worker \(victimPID) \(sanitized ? "" : how)"), log)
            // The worker's scoreboard says which call it was running, even for os._exit.
            let exitLine = log.split(separator: "\n").first { $0.contains("worker \(victimPID) ") && !$0.contains(" ready ") } ?? ""
            XCTAssertTrue(exitLine.contains("while running svc.\(rpc)() -> (int) for "), log)
            if rpc != "leave" {
                // Python's traceback names the script that crashed the worker.
                XCTAssertTrue(log.contains("Fatal Python error") && log.contains("\(rpc).py\", line"), log)
            }
            XCTAssertEqual(workers(of: supervisor.processIdentifier).count, 2, "\(rpc): workers after the replacement")
        }
        // `pyrpc call` says what a dropped call may mean (not "start the servers"): SIGKILL
        // leaves the worker no chance to answer.
        let dropped = try CLIProcess.run(["call", "svc", "vanish"], in: folder)
        XCTAssertNotEqual(dropped.status, 0)
        XCTAssertTrue(dropped.stderr.contains("closed the connection before answering") && dropped.stderr.contains("crashed during the call"), dropped.stderr)
    }

    func testDeployReachesEveryWorkerAllOrNothing() throws {
        let supervisor = try serve(processes: 2)
        XCTAssertEqual(try deploy().status, 0, log)
        try writeFiles(["version.py": "def version():\n    return 'v2'\n"], in: folder)
        let deployed = try deploy()
        XCTAssertEqual(deployed.status, 0, deployed.stdout + deployed.stderr + log)
        /// What 50 fresh connections get.
        func versions() throws -> Set<String> {
            Set(try (0..<50).map { _ in try call("version", returns: "str").returnValues?.first?.stringValue ?? "(no answer)" })
        }
        XCTAssertEqual(try versions(), ["v2"])
        let running = workers(of: supervisor.processIdentifier)

        // A script whose import crashes the interpreter: rejected, and no worker is lost.
        try writeFiles(["version.py": "import ctypes\nctypes.string_at(0)\n\ndef version():\n    return 'v3'\n"], in: folder)
        let crashing = try deploy()
        XCTAssertEqual(crashing.status, 1, crashing.stdout + crashing.stderr)
        XCTAssertTrue(crashing.stdout.contains("Deploy Rejected") && crashing.stdout.contains("crashed the interpreter"), crashing.stdout)
        // One that fails to load: rejected by every worker's check.
        try writeFiles(["version.py": "def version(:\n"], in: folder)
        let broken = try deploy()
        XCTAssertEqual(broken.status, 1, broken.stdout + broken.stderr)
        XCTAssertTrue(broken.stdout.contains("SyntaxError"), broken.stdout)
        XCTAssertEqual(try versions(), ["v2"])
        XCTAssertEqual(workers(of: supervisor.processIdentifier), running, "a worker died: \(log)")

        // Workers started later load the committed state, with the same generation number.
        kill(supervisor.processIdentifier, SIGHUP)
        XCTAssertTrue(wait { occurrences(of: "(replaced (SIGHUP))") == 2 }, log)
        XCTAssertTrue(workers(of: supervisor.processIdentifier).isDisjoint(with: running))
        XCTAssertEqual(try versions(), ["v2"])
        XCTAssertTrue(log.contains("ready (generation 2)"), log)
    }

    func testSIGHUPFailsNoCallAndSIGTERMLeavesNoProcess() throws {
        let supervisor = try serve(processes: 2)
        XCTAssertEqual(try deploy().status, 0, log)
        let before = workers(of: supervisor.processIdentifier)
        let stop = SharedFlag()
        let tally = CallTally()
        let caller = Thread { [port] in
            while !stop.isSet {
                do {
                    let socket = try RawSocket(host: "127.0.0.1", port: port)
                    defer { socket.close() }
                    try socket.send(requestLine(service: "svc", rpc: "version", arguments: [], types: [], returns: ["str"]) + "\n")
                    let answer = try JSONParser.parse(socket.readLine())
                    tally.add(ok: answer.returnValues == [.string("v1")], detail: "answered \(answer)")
                } catch {
                    tally.add(ok: false, detail: "\(error)")
                }
            }
        }
        caller.start()
        XCTAssertTrue(wait { tally.counts.ok > 20 })
        kill(supervisor.processIdentifier, SIGHUP)
        XCTAssertTrue(wait { occurrences(of: "(replaced (SIGHUP))") == 2 }, log)
        let atReplacement = tally.counts.ok
        XCTAssertTrue(wait { tally.counts.ok > atReplacement + 20 })
        stop.set()
        while caller.isExecuting { usleep(10_000) }
        XCTAssertEqual(tally.counts.failed, 0, "calls failed during SIGHUP: \(tally.failureDetails); the server's log:\n\(log)")
        let after = workers(of: supervisor.processIdentifier)
        XCTAssertEqual(after.count, 2)
        XCTAssertTrue(after.isDisjoint(with: before), "SIGHUP kept a worker")

        kill(supervisor.processIdentifier, SIGTERM)
        XCTAssertTrue(wait { !supervisor.isRunning }, log)
        supervisor.waitUntilExit()
        XCTAssertEqual(supervisor.terminationReason, .exit)
        XCTAssertEqual(supervisor.terminationStatus, 0)
        for pid in after {
            XCTAssertTrue(wait(5) { !processRuns(pid) }, "worker \(pid) outlived the supervisor")
        }
    }

    func testAWorkerWithAStuckCallIsReplaced() throws {
        let supervisor = try serve(processes: 2, ["--harakiri-grace", "2"], timeout: 1)
        XCTAssertEqual(try deploy().status, 0, log)
        let (stuckOn, stuckPID, other, otherPID) = try connectionsOnTwoWorkers()
        defer { stuckOn.close(); other.close() }
        let start = Date()
        XCTAssertEqual(try call("stuck", on: stuckOn).exceptionType, "Timeout")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.9, "Timeout came late")
        // time.sleep(600) ignores the interrupt: 2 s later its worker hands over and leaves.
        XCTAssertTrue(wait(10) { !processRuns(Int32(stuckPID)) }, log)
        let replaced = Date().timeIntervalSince(start)
        XCTAssertLessThan(replaced, 6, "the stuck worker left after \(replaced) s")
        XCTAssertGreaterThan(replaced, 2.5, "the stuck worker left before its grace")
        XCTAssertTrue(log.contains("harakiri: svc.stuck() -> (int) by c1@127.0.0.1 is stuck"), log)
        XCTAssertEqual(try call("who", on: other).returnValues, [.int(otherPID)], "the other worker's connection")
        XCTAssertTrue(wait { workers(of: supervisor.processIdentifier).count == 2 }, "no successor: \(log)")
    }

    func testRecyclingByRequestCountFailsNoCall() throws {
        let supervisor = try serve(processes: 2, ["--max-requests", "40"])
        XCTAssertEqual(try deploy().status, 0, log)
        let first = workers(of: supervisor.processIdentifier)
        var failed: [String] = []
        var calls = 0
        // Calls on fresh connections until workers have handed over three times (a release
        // build serves 300 calls before the watchdog's next look, so count hand-overs, not calls).
        let deadline = Date().addingTimeInterval(30)
        while occurrences(of: "hands over to a new one") < 3, Date() < deadline {
            do {
                let answer = try call("version", returns: "str")
                if answer.returnValues != [.string("v1")] { failed.append(answer.jsonText) }
            } catch {
                failed.append("\(error)")
            }
            calls += 1
            usleep(2_000)
        }
        XCTAssertEqual(failed, [], "calls failed while workers recycled")
        XCTAssertGreaterThanOrEqual(occurrences(of: "hands over to a new one"), 3, "\(calls) calls: \(log)")
        XCTAssertTrue(wait { occurrences(of: "(recycled after") >= 3 }, log)
        XCTAssertTrue(wait { workers(of: supervisor.processIdentifier).count == 2 })
        XCTAssertFalse(workers(of: supervisor.processIdentifier).isSuperset(of: first), "no first worker was recycled")
    }

    func testStatsCoverEveryWorker() throws {
        try serve(processes: 2)
        XCTAssertEqual(try deploy().status, 0, log)
        let (first, firstPID, second, secondPID) = try connectionsOnTwoWorkers()
        defer { first.close(); second.close() }
        for _ in 0..<5 { _ = try call("who", on: first) }
        for _ in 0..<7 { _ = try call("who", on: second) }
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(#"{"header":"STATS-REQ","value":{}}"# + "\n")
        let stats = try JSONParser.parse(socket.readLine())["value"]
        let processes = stats?["processes"]?.arrayValue ?? []
        XCTAssertEqual(Set(processes.compactMap { $0["pid"]?.numberValue.map(Int.init) }), [firstPID, secondPID], stats?.jsonText ?? "")
        let perWorker = processes.compactMap { $0["calls"]?.numberValue }.reduce(0, +)
        let who = stats?["rpcs"]?.arrayValue?.first { $0["rpc"] == .string("who") }
        XCTAssertEqual(who?["calls"]?.numberValue, perWorker, "the RPC's calls are the workers' calls summed")
        XCTAssertGreaterThanOrEqual(perWorker, 14)
        XCTAssertNotNil(who?["p99_ms"])
        XCTAssertEqual(stats?["restarts"], .int(0))

        let printed = try CLIProcess.run(["stats"], in: folder)
        XCTAssertEqual(printed.status, 0, printed.stderr)
        XCTAssertTrue(printed.stdout.contains("2 worker processes, 0 restarts"), printed.stdout)
        XCTAssertTrue(printed.stdout.contains("pid \(firstPID)") && printed.stdout.contains("pid \(secondPID)"), printed.stdout)
        first.close()
        second.close()

        // Workers replaced (SIGHUP) hand their counts to the supervisor as they stop: the
        // server's totals go on, and each worker place counts its restart and why.
        let served = try whoCalls()
        kill(server!.processIdentifier, SIGHUP)
        XCTAssertTrue(wait { occurrences(of: "(replaced (SIGHUP))") >= 2 }, log)
        XCTAssertTrue(wait { Set(workers(of: server!.processIdentifier)).isDisjoint(with: [Int32(firstPID), Int32(secondPID)]) }, log)
        for _ in 0..<3 { _ = try call("who") }
        let after = try statistics()
        XCTAssertEqual(try whoCalls(after), served + 3, after.jsonText)
        let places = after["processes"]?.arrayValue ?? []
        XCTAssertEqual(places.compactMap { $0["worker"] }, [.int(1), .int(2)], after.jsonText)
        XCTAssertEqual(places.compactMap { $0["restarts"] }, [.int(1), .int(1)], after.jsonText)
        XCTAssertTrue(places.allSatisfy { $0["last_exit"]?.stringValue?.contains("replaced (SIGHUP)") == true }, after.jsonText)

        // A worker killed outright loses nothing it counted, not even the calls of its last
        // moment: its stats board, in memory it shares with the supervisor, outlives it.
        let last = try RawSocket(host: "127.0.0.1", port: port)
        defer { last.close() }
        let victim = Int32(try call("who", on: last).returnValues?.first?.numberValue ?? 0)
        for _ in 0..<4 { _ = try call("who", on: last) }
        kill(victim, SIGKILL)
        XCTAssertTrue(wait { occurrences(of: "worker \(victim) killed by SIGKILL") == 1 }, log)
        XCTAssertTrue(wait { workers(of: server!.processIdentifier).count == 2 && occurrences(of: " ready (generation") >= 5 }, log)
        XCTAssertEqual(try whoCalls(), served + 3 + 5, "the killed worker's last calls went with it")
    }

    private func statistics() throws -> JSONValue {
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(#"{"header":"STATS-REQ","value":{}}"# + "\n")
        return try JSONParser.parse(socket.readLine())["value"] ?? .null
    }

    /// Calls of `svc.who` the server counted (over its workers, and those gone).
    private func whoCalls(_ stats: JSONValue? = nil) throws -> Int {
        let stats = try stats ?? statistics()
        return Int(stats["rpcs"]?.arrayValue?.first { $0["rpc"] == .string("who") }?["calls"]?.numberValue ?? -1)
    }

    func testUpRunsEachServerInProcessesOfItsOwn() throws {
        let otherPort = CLIProcess.freePort()
        try writeFiles(scripts.merging(["init.yaml": """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port)}
                - s2: {ip: 127.0.0.1, port: \(otherPort)}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - svc: {providers: [s1], tenants: [c1], rpcs: [who, segv]}
              - other: {providers: [s2], tenants: [c1], rpcs: [who]}
            rpc:
              - who: {args: [], returns: [int], src: who.py}
              - segv: {args: [], returns: [int], src: segv.py}

            """]) { $1 }, in: folder)
        let up = try CLIProcess.start(["up", "--state-dir", "state"], in: folder)
        server = up
        XCTAssertTrue(CLIProcess.waitForOutput("Stop with Ctrl-C", in: folder.appendingPathComponent("server.out"), of: up), log)
        let other = try RawSocket(host: "127.0.0.1", port: otherPort)
        defer { other.close() }
        let otherLine = requestLine(service: "other", rpc: "who", arguments: [], types: [], returns: ["int"]) + "\n"
        try other.send(otherLine)
        let otherPID = try JSONParser.parse(other.readLine()).returnValues
        XCTAssertNotNil(otherPID)
        XCTAssertEqual(try call("segv")["value"]?["exception-message"]?.stringValue, "svc.segv() killed its worker: SIGSEGV", log)
        // The other server's worker, and its connection, never noticed.
        try other.send(otherLine)
        XCTAssertEqual(try JSONParser.parse(other.readLine()).returnValues, otherPID)
        let crashed = Date()
        XCTAssertNotNil(try call("who").returnValues, "s1 does not answer again")
        XCTAssertLessThan(Date().timeIntervalSince(crashed), 2)
        XCTAssertTrue(log.contains(sanitized ? "starting another" : "killed by SIGSEGV while running svc.segv() -> (int)"), log)
        kill(up.processIdentifier, SIGTERM)
        XCTAssertTrue(wait { !up.isRunning }, log)
        up.waitUntilExit()
        XCTAssertEqual(up.terminationStatus, 0)
    }

    private var marker: String { folder.appendingPathComponent("crash-at-import").path }

    /// A script whose import kills the process (exit status 7) once `marker` exists.
    private func fragile(_ version: Int, crashes: Bool) -> String {
        "import os\n\n" + (crashes ? "if os.path.exists(\"\(marker)\"):\n    os._exit(7)\n\n" : "")
            + "def fragile():\n    return \(version)\n"
    }

    /// Two workers serving `fragile` version 1, which crashes on import once `marker` exists.
    private func serveFragile() throws -> Process {
        try writeFiles(["fragile.py": fragile(1, crashes: true)], in: folder)
        let supervisor = try serve(processes: 2)
        try writeFiles(["init.yaml": oneServerNetwork(port: port, rpcs: [("fragile", "[]", "[int]", "fragile.py")])], in: folder)
        XCTAssertEqual(try deploy().status, 0, log)
        XCTAssertEqual(try call("fragile").returnValues, [.int(1)])
        return supervisor
    }

    /// SIGHUP when the state on disk now crashes a fresh worker: the workers serving are kept
    /// (replacing them would leave none), the log says why, and a later SIGHUP, once the cause
    /// is gone, replaces them as usual.
    func testASIGHUPWhoseSuccessorCannotStartKeepsTheWorkers() throws {
        let supervisor = try serveFragile()
        let before = workers(of: supervisor.processIdentifier)
        XCTAssertTrue(FileManager.default.createFile(atPath: marker, contents: nil))
        kill(supervisor.processIdentifier, SIGHUP)
        XCTAssertTrue(wait { log.contains("is kept, and so are the others: its successor") }, log)
        let successorExit = log.split(separator: "\n").first { $0.contains("before it took over; the worker it was to replace serves on") } ?? ""
        XCTAssertTrue(successorExit.contains("exited with status 7 while loading fragile.py"), log)
        for _ in 0..<20 { XCTAssertEqual(try call("fragile").returnValues, [.int(1)]) }
        XCTAssertEqual(workers(of: supervisor.processIdentifier), before)
        XCTAssertEqual(occurrences(of: "(replaced (SIGHUP))"), 0, log)

        try FileManager.default.removeItem(atPath: marker)
        kill(supervisor.processIdentifier, SIGHUP)
        XCTAssertTrue(wait { occurrences(of: "(replaced (SIGHUP))") == 2 }, log)
        XCTAssertTrue(wait { workers(of: supervisor.processIdentifier).count == 2 })
        XCTAssertTrue(workers(of: supervisor.processIdentifier).isDisjoint(with: before))
        XCTAssertEqual(try call("fragile").returnValues, [.int(1)])
    }

    /// The deployed state kills every worker as it loads (here: once a file appears, as when a
    /// package or a data file a script reads changed): the supervisor answers for the server —
    /// calls get `Server Busy` saying why, `pyrpc stats` shows the crash loop — and a deploy
    /// that fixes the script is applied at once.
    func testACrashLoopAtStartIsReportedAndMendedByADeploy() throws {
        let supervisor = try serveFragile()

        XCTAssertTrue(FileManager.default.createFile(atPath: marker, contents: nil))
        for pid in workers(of: supervisor.processIdentifier) { kill(pid, SIGKILL) }
        XCTAssertTrue(wait { log.contains("crash loop") }, log)
        let busy = try call("fragile")
        XCTAssertEqual(busy["header"], .string("RPC-EX"), busy.jsonText)
        XCTAssertEqual(busy["value"]?["exception-type"], .string("Server Busy"))
        let reason = busy["value"]?["exception-message"]?.stringValue ?? ""
        XCTAssertTrue(reason.contains("server s1 has no worker running: its workers die as they start"), reason)
        XCTAssertTrue(reason.contains("exited with status 7 while loading fragile.py"), reason)

        let stats = try statistics()
        XCTAssertEqual(stats["crash_loop"], .bool(true), stats.jsonText)
        let printed = try CLIProcess.run(["stats"], in: folder)
        XCTAssertTrue(printed.stdout.contains("CRASH LOOP"), printed.stdout + printed.stderr)
        let listing = try CLIProcess.run(["ls"], in: folder)
        XCTAssertEqual(listing.status, 3)
        XCTAssertTrue(listing.stdout.contains("s1: Server Busy: server s1 has no worker running"), listing.stdout)

        // A fix that still crashes on import is refused by its trial load; nothing changes.
        try writeFiles(["fragile.py": fragile(2, crashes: true)], in: folder)
        let refused = try deploy()
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stdout.contains("crashed the interpreter (the process that tried them exited with status 7 while loading"), refused.stdout + refused.stderr)
        XCTAssertEqual(try call("fragile")["value"]?["exception-type"], .string("Server Busy"))

        // The real fix: applied at once, answered when the workers serve it.
        try writeFiles(["fragile.py": fragile(3, crashes: false)], in: folder)
        let mended = try deploy()
        XCTAssertEqual(mended.status, 0, mended.stderr + log)
        XCTAssertTrue(mended.stdout.contains("generation 2"), mended.stdout)
        for _ in 0..<20 { XCTAssertEqual(try call("fragile").returnValues, [.int(3)]) }
        XCTAssertEqual(workers(of: supervisor.processIdentifier).count, 2)
        XCTAssertEqual(try statistics()["crash_loop"], .bool(false))
    }

    func testWorkersLeaveWhenTheSupervisorIsKilled() throws {
        let supervisor = try serve(processes: 2)
        let running = workers(of: supervisor.processIdentifier)
        XCTAssertEqual(running.count, 2)
        kill(supervisor.processIdentifier, SIGKILL)
        supervisor.waitUntilExit()
        for pid in running {
            XCTAssertTrue(wait(15) { !processRuns(pid) }, "worker \(pid) outlived its supervisor")
        }
    }
}

/// A flag one thread sets and another polls.
private final class SharedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Calls that succeeded and failed, counted from another thread.
private final class CallTally: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0
    private var failed = 0
    /// What went wrong in the first failed calls (an error, or the answer), with the time: a
    /// rare failure must say enough to be found from one CI log.
    private var failures: [String] = []
    var counts: (ok: Int, failed: Int) { lock.withLock { (ok, failed) } }
    var failureDetails: [String] { lock.withLock { failures } }
    func add(ok succeeded: Bool, detail: @autoclosure () -> String = "") {
        lock.withLock {
            if succeeded {
                ok += 1
            } else {
                failed += 1
                if failures.count < 5 { failures.append("\(Date().timeIntervalSince1970) after \(ok) ok: \(detail())") }
            }
        }
    }
}
