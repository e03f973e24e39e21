import ArgumentParser
import CLinux
import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCWire

/// `swift run -c release pyrpc-bench`: the benchmark suite of issue 4.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pyrpc-bench",
        abstract: "Benchmark a real pyrpc server against a C ceiling server and a course-style Python server.",
        discussion: "Writes a Markdown table to benchmarks/RESULTS.md (see --output).",
        subcommands: [ServeChild.self])

    @Option(help: "Seconds per throughput workload.")
    var duration: Double = 3

    @Option(help: "Calls in each large-message workload (total, echo).")
    var largeCalls: Int = 300

    @Option(help: "Calls for the RSS-flatness run (the issue asks for 1,000,000).")
    var longCalls: Int = 1_000_000

    @Option(help: "Hot swaps for the RSS run.")
    var swaps: Int = 1000

    @Option(help: "RPCs in the deploy workload.")
    var deployRPCs: Int = 1000

    @Option(help: "Worker kill-and-replace cycles (each waits a second, so as not to be a crash loop).")
    var crashCycles: Int = 200

    @Option(help: "kill -9 and restart trials for the restart race.")
    var restartTrials: Int = 100

    @Option(help: "Where to write the Markdown results.")
    var output: String = "benchmarks/RESULTS.md"

    @Flag(help: "Do not pin the servers and the load generator to separate cores.")
    var noPinning = false

    @Flag(help: "Skip the Python baseline and ceiling comparisons.")
    var skipComparisons = false

    @Option(help: "Run only workloads whose name contains this text (e.g. total, add, deploy, RSS).")
    var only: String?

    @Option(help: ArgumentHelp(
        "Another build's pyrpc-bench whose server takes turns with this build's in the add workloads.",
        discussion: "For measuring a change in one run: copy main's .build/release/pyrpc-bench aside, build the change, pass the copy. The report's last table compares the two turn by turn."))
    var versus: String?

    /// Ten: against three, with the same time in all, four runs of each gave ratios to the C
    /// ceiling half as spread (CPU per call ±0.023 against ±0.050); thirty turns of 0.2 s
    /// showed that short turns do not cost pyrpc against the ceiling (1.10× CPU, 1.04× calls/s).
    @Option(help: "Turns each server takes in the add groups (more turns: the VM's drift averages out better).")
    var rounds: Int = 10

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1 (it was \(rounds))") }
        if let versus, !FileManager.default.isExecutableFile(atPath: versus) {
            throw ValidationError("--versus \(versus): no executable there (give the path of another build's pyrpc-bench)")
        }
    }

    func run() async throws {
        // A Ctrl-C, a `kill` or a crash of this process takes its servers with it.
        pyrpc_children_die_with_this_process()
        // The load generator takes core 1; servers are pinned to core 0.
        ServerUnderTest.pinning = !noPinning && ProcessInfo.processInfo.activeProcessorCount >= 2
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")
        if ServerUnderTest.pinning { ProcessProbe.pinSelf(to: [1]) }
        let suite = try BenchSuite(options: self)
        defer { suite.cleanUp() }
        try await suite.runAll()
        let markdown = suite.report.markdown(machine: BenchSuite.machineDescription(pinned: ServerUnderTest.pinning))
        try markdown.write(toFile: output, atomically: true, encoding: .utf8)
        say("")
        say(markdown)
        say("written to \(output)")
    }
}
