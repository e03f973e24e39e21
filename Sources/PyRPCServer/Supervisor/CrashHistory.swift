import Foundation

/// How the workers ended, for `pyrpc stats` and the log, and whether they crash in a loop:
/// a worker that dies before it is ready, or within a second of it while running no call, is
/// part of a crash loop (a script that kills every worker as it loads), so each replacement
/// waits longer (0, 0.1, 0.2, 0.4 ... 10 s); one that served a while starts the count over.
/// One killed by a call it ran is replaced at once, however often calls crash: a tenant's
/// crashing RPC must not keep every other client out with `Server Busy`.
struct CrashHistory {
    private(set) var crashesInARow = 0
    /// When the replacement a crash loop waits for is due.
    var nextAttempt: ContinuousClock.Instant?
    /// Unexpected deaths, all places together.
    private(set) var restarts = 0
    /// Per worker place: how often it was restarted, and why the latest time.
    private(set) var places: [Int: (restarts: Int, lastExit: String)] = [:]
    /// The latest workers that died or left, newest last.
    private(set) var exits: [(at: ContinuousClock.Instant, pid: pid_t, how: String)] = []

    var isCrashLoop: Bool { crashesInARow >= 3 }

    /// A worker died unexpectedly: how long its replacement waits (seconds). `startedFine`:
    /// it was ready and a call killed it.
    mutating func crashed(servedLong: Bool, startedFine: Bool) -> Double {
        crashesInARow = startedFine ? 0 : servedLong ? 1 : crashesInARow + 1
        restarts += 1
        return crashesInARow <= 1 ? 0 : min(10, 0.1 * pow(2, Double(crashesInARow - 2)))
    }

    /// A worker ended, `why`; counted against its place unless the server is stopping.
    mutating func ended(_ pid: pid_t, why: String, place: Int?) {
        exits.append((.now, pid, why))
        if exits.count > 5 { exits.removeFirst() }
        if let place { places[place] = ((places[place]?.restarts ?? 0) + 1, why) }
    }

    /// A deploy stored a state the workers start on at once: the loop's count starts over.
    mutating func mended() {
        crashesInARow = 0
    }
}
