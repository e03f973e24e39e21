import CPython
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import FuzzSupport

/// Python references leaked by our code do not show up in LeakSanitizer (the interpreter's
/// memory is never freed, so libpython's allocations are suppressed). Instead: run the same
/// input many more times and watch `sys.getallocatedblocks()`; a leak grows it every time.
///
/// Growth seen in a long fuzzing process can also come from what ran before: caches CPython
/// fills lazily, a little per call, for a while (three false alarms in CI). So growth is only
/// a suspicion until a fresh process, which has run nothing but this input, sees it too
/// (`LeakConfirmation`): then it is a leak and the run fails; otherwise the input is printed
/// and kept as `UNCONFIRMED` and fuzzing goes on. The verdict depends on the input alone.
public enum LeakCheck {
    nonisolated(unsafe) static var counter = 0
    static let checksEveryInput = getenv("PYRPC_FUZZ_LEAK_EVERY_INPUT") != nil
    /// Set in the process that confirms a suspicion: its verdict is final.
    static let isConfirming = getenv(LeakConfirmation.variable) != nil
    static let injected = InjectedLeak.fromEnvironment()

    /// Blocks still allocated once cyclic garbage is collected: a value whose conversion
    /// raised leaves an exception, its traceback and frames in a cycle that only the
    /// collector frees, whenever it next runs. Uncollected, that cycle looked like a leak
    /// growing by 2 blocks a repeat (found in CI; the input alone never grew).
    static func blocks() -> Int {
        _ = PyGC_Collect()
        guard let function = PySys_GetObject("getallocatedblocks"), let count = PyObject_CallNoArgs(function) else {
            fatalError("sys.getallocatedblocks is missing")
        }
        defer { Py_DecRef(count) }
        return PyLong_AsLong(count)
    }

    public static func run(input: UnsafeRawBufferPointer, _ body: () -> Void) {
        // Every 64th input: enough to catch a leak on a path the fuzzer keeps visiting.
        counter += 1
        guard counter % 64 == 0 || checksEveryInput || isConfirming else { return }
        let checked = withoutActuallyEscaping(body) { body -> String? in
            let repeated = { body(); injected?.run(for: input) }
            guard let growth = growth(repeated) else { return nil }
            if getenv("PYRPC_FUZZ_LEAK_EXPLAIN") != nil { printError(GrowthExplanation.explain(repeated)) }
            return growth
        }
        guard let growth = checked else { return }
        let what = "Python blocks grew on every repeat of the same input (96 repeats later still: \(growth))"
        if isConfirming {
            // A leak grows by at least a block every repeat for ever; a cache that fills a
            // little per call (a resize now and then, depending on the hash seed: it happened
            // in fresh processes too, ~0.5-1.4 blocks a repeat) stops or slows. So the verdict
            // also needs every one of four long windows to keep growing.
            guard let sustained = withoutActuallyEscaping(body, do: { body in sustainedGrowth { body(); injected?.run(for: input) } }) else {
                _exit(0)  // not a leak: the parent reports it as unconfirmed (exit() would be libFuzzer's "target exited")
            }
            mismatch("\(what), and \(sustained): a reference leak, seen in a process that ran nothing but this input", input: input)
        }
        switch LeakConfirmation.check(input) {
        case .confirmed(let report):
            printError(report)
            mismatch("\(what): a reference leak, confirmed in a fresh process", input: input)
        case .notReproduced(let kept):
            // Printed for the record (and kept in the corpus); not a finding.
            let text = String(decoding: input.prefix(2000), as: UTF8.self)
            printError("UNCONFIRMED: \(what) in this process, but a fresh process did not see it keep growing: a cache filling (it depends on what ran before, or on the process), not a leak\ninput (\(input.count) bytes): \(text.debugDescription) base64 \(LeakConfirmation.base64(input))\(kept.map { ", kept as \($0)" } ?? "")\n")
        case .failed(let why):
            mismatch("\(what), and the fresh process that was to confirm it could not run: \(why)", input: input)
        }
    }

    /// Growth in each of four windows of 256 repeats, when every one grew by half a block a
    /// repeat or more; nil otherwise.
    private static func sustainedGrowth(_ body: () -> Void) -> String? {
        var growths: [Int] = []
        var previous = blocks()
        for _ in 0..<4 {
            for _ in 0..<256 { body() }
            let now = blocks()
            growths.append(now - previous)
            previous = now
        }
        return growths.allSatisfy({ $0 >= 128 }) ? "grew \(growths.map(String.init).joined(separator: ", ")) blocks in four windows of 256 repeats" : nil
    }

    /// "settled → later" when the blocks kept growing; nil when they did not.
    private static func growth(_ body: () -> Void) -> String? {
        // Warm up first: CPython 3.11 specializes code that ran 8 times (abc's
        // __instancecheck__, Decimal.__float__...), allocating caches once.
        for _ in 0..<16 { body() }
        var previous = blocks()
        var grew = 0
        for _ in 0..<3 {
            body()
            let now = blocks()
            if now > previous { grew += 1 }
            previous = now
        }
        guard grew == 3 else { return nil }
        // Growth that stops is CPython filling caches, not a leak: `float(Fraction(0))` called
        // from C grows 2 blocks a call for about ten calls, then never again (found in CI;
        // the same from a bare C program on libpython). A leak grows on every repeat for ever.
        for _ in 0..<64 { body() }
        let settled = blocks()
        for _ in 0..<32 { body() }
        let later = blocks()
        return later - settled >= 16 ? "\(settled) → \(later)" : nil
    }
}

/// A leak put in on purpose (`PYRPC_FUZZ_INJECT_LEAK`), so that `scripts/fuzz selftest` can
/// show the check catches one and only one: `always` leaks a list on every repeat; `history`
/// only while checking an input other than the first the process checked (growth that a
/// fresh process does not reproduce); `filling` on each of a process's first 200 repeats and
/// never again — a cache that fills, in a fresh process too.
struct InjectedLeak {
    enum Kind { case always, history, filling }
    let kind: Kind
    nonisolated(unsafe) static var first: [UInt8]?
    nonisolated(unsafe) static var repeats = 0

    static func fromEnvironment() -> InjectedLeak? {
        switch getenv("PYRPC_FUZZ_INJECT_LEAK").map({ String(cString: $0) }) {
        case "always": return InjectedLeak(kind: .always)
        case "history": return InjectedLeak(kind: .history)
        case "filling": return InjectedLeak(kind: .filling)
        default: return nil
        }
    }

    func run(for input: UnsafeRawBufferPointer) {
        switch kind {
        case .always:
            break
        case .history:
            // libFuzzer runs the empty input once before the files it is given.
            guard !input.isEmpty else { return }
            if Self.first == nil { Self.first = Array(input) }
            guard Self.first != Array(input) else { return }
        case .filling:
            Self.repeats += 1
            guard Self.repeats <= 200 else { return }
        }
        _ = PyList_New(0)  // never released
    }
}
