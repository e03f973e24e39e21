import CPython

/// Proof that the current thread holds the GIL. Only `PythonRuntime` makes one, inside a
/// scope; functions that touch Python objects take it as a `borrowing` parameter.
public struct GIL: ~Copyable {
    fileprivate init() {}

    /// Runs `body` holding the GIL, from any thread (slow path: ~0.1 µs on a thread that
    /// already has a thread state, ~10 µs on one that does not).
    static func withGIL<T>(_ body: (borrowing GIL) throws -> T) rethrows -> T {
        let state = PyGILState_Ensure()
        defer { PyGILState_Release(state) }
        return try body(GIL())
    }

    /// Runs `body` on a thread whose thread state is pinned (a Python worker): the fast path.
    static func withPinned<T>(_ threadState: UnsafeMutablePointer<PyThreadState>, _ body: (borrowing GIL) throws -> T) rethrows -> T {
        PyEval_RestoreThread(threadState)
        defer { _ = PyEval_SaveThread() }
        return try body(GIL())
    }
}

