import CPython
import FuzzSupport

/// What grows while a suspect input repeats (`PYRPC_FUZZ_LEAK_EXPLAIN`): the objects the
/// collector tracks, counted by type, and the allocations tracemalloc sees, by place.
enum GrowthExplanation {
    static func explain(_ body: () -> Void) -> String {
        let setup = """
            import gc, sys, tracemalloc, collections
            def _census():
                gc.collect()
                return collections.Counter(type(o).__name__ for o in gc.get_objects())
            _before = _census()
            _blocks = sys.getallocatedblocks()
            tracemalloc.start(5)
            _snapshot = tracemalloc.take_snapshot()
            """
        let report = """
            gc.collect()
            _after = _census()
            _grown = {k: _after[k] - _before[k] for k in _after if _after[k] != _before[k]}
            _lines = ['EXPLAIN: 32 repeats: blocks %d -> %d; tracked objects by type: %r' % (_blocks, sys.getallocatedblocks(), _grown)]
            for stat in tracemalloc.take_snapshot().compare_to(_snapshot, 'traceback')[:8]:
                if stat.count_diff:
                    _lines.append('EXPLAIN: %+d blocks, %+d bytes at %s' % (stat.count_diff, stat.size_diff, ' <- '.join(str(f) for f in stat.traceback)))
            tracemalloc.stop()
            _text = '\\n'.join(_lines) + '\\n'
            """
        guard let globals = PyDict_New() else { return "EXPLAIN: no dict\n" }
        defer { Py_DecRef(globals) }
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins())
        guard run(setup, globals) else { return "EXPLAIN: setup failed\n" }
        for _ in 0..<32 { body() }
        guard run(report, globals), let text = PyDict_GetItemString(globals, "_text"), let utf8 = PyUnicode_AsUTF8(text) else {
            return "EXPLAIN: report failed\n"
        }
        return String(cString: utf8)
    }

    private static func run(_ source: String, _ globals: UnsafeMutablePointer<PyObject>) -> Bool {
        guard let result = PyRun_String(source, Py_file_input, globals, globals) else {
            PyErr_Print()
            return false
        }
        Py_DecRef(result)
        return true
    }
}
