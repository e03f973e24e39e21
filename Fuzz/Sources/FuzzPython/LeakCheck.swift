import CPython
#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport

/// Python references leaked by our code do not show up in LeakSanitizer (the interpreter's
/// memory is never freed, so libpython's allocations are suppressed). Instead: run the same
/// input a few more times and watch `sys.getallocatedblocks()`; a leak grows it every time.
public enum LeakCheck {
    nonisolated(unsafe) static var counter = 0

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
        guard counter % 64 == 0 || getenv("PYRPC_FUZZ_LEAK_EVERY_INPUT") != nil else { return }
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
        guard grew == 3 else { return }
        // Growth that stops is CPython filling caches, not a leak: `float(Fraction(0))` called
        // from C grows 2 blocks a call for about ten calls, then never again (found in CI;
        // the same from a bare C program on libpython). A leak grows on every repeat for ever.
        for _ in 0..<64 { body() }
        let settled = blocks()
        for _ in 0..<32 { body() }
        let later = blocks()
        if later - settled >= 16 {
            mismatch("Python blocks grew on every repeat of the same input (96 repeats later still: \(settled) → \(later)): a reference leak", input: input)
        }
    }
}
