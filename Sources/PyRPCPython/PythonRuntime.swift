import CLinux
import CPython
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The process's one embedded interpreter, started on first use.
///
/// Started isolated (no `PYTHONPATH`/`PYTHONHOME` from the environment, which could be fatal
/// for the host) and without Python's signal handlers (they would swallow Ctrl-C and set
/// SIGPIPE to ignored process-wide). After start no thread holds the GIL; Python runs on
/// `PythonWorkerPool` threads.
///
/// It is never finalized: `Py_FinalizeEx` joins non-daemon threads that scripts may have
/// started and kills threads still inside Python, so the process simply exits instead.
public final class PythonRuntime: @unchecked Sendable {
    public static let shared = PythonRuntime()

    /// `sys.version` of the embedded interpreter.
    public let version: String
    /// The `_pyrpc.RPCTimeout` class raised into calls that overrun.
    let timeoutType: PyHandle
    /// `traceback.format_exception`, for the log.
    let formatException: PyHandle
    /// `sys.modules`, where live script modules are registered.
    let sysModules: PyHandle

    private init() {
        pyrpc_tune_malloc()
        pyrpc_install_arena_cache()
        if let problem = pyrpc_initialize(PythonRuntime.programName()) {
            fatalError("cannot start the embedded Python: \(String(cString: problem))")
        }
        // The initializing thread holds the GIL until `PyEval_SaveThread`; every local
        // reference is dropped inside `setUp`, before that.
        let handles = Self.setUp()
        timeoutType = handles.timeoutType
        formatException = handles.formatException
        sysModules = handles.sysModules
        version = String(cString: Py_GetVersion())
        _ = PyEval_SaveThread()
    }

    private static func setUp() -> (timeoutType: PyHandle, formatException: PyHandle, sysModules: PyHandle) {
        let helper = PyRef(owning: PyModule_New(PythonBootstrap.moduleName)!)
        let dict = PyModule_GetDict(helper.pointer)!
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins())
        let logOut = PyRef(owning: pyrpc_make_function("_log_out", logStandardOutput)!)
        let logErr = PyRef(owning: pyrpc_make_function("_log_err", logStandardError)!)
        let afterFork = PyRef(owning: pyrpc_make_function("_after_fork_in_child", afterForkInChild)!)
        PyDict_SetItemString(dict, "_after_fork_in_child", afterFork.pointer)
        let exitFromScript = PyRef(owning: pyrpc_make_function("_exit", exitFromScript)!)
        PyDict_SetItemString(dict, "_exit", exitFromScript.pointer)
        PyDict_SetItemString(dict, "_log_out", logOut.pointer)
        PyDict_SetItemString(dict, "_log_err", logErr.pointer)
        guard let code = PyRef.owning(Py_CompileString(PythonBootstrap.source, "<pyrpc bootstrap>", pyrpc_file_input())),
            PyRef.owning(PyEval_EvalCode(code.pointer, dict, dict)) != nil
        else {
            PyErr_Print()
            fatalError("the pyrpc Python bootstrap failed")
        }
        let modules = PyRef(borrowing: PyImport_GetModuleDict())
        PyDict_SetItemString(modules.pointer, PythonBootstrap.moduleName, helper.pointer)
        return (
            PyHandle(PyRef(borrowing: PyDict_GetItemString(dict, "RPCTimeout")!)),
            PyHandle(PyRef(borrowing: PyDict_GetItemString(dict, "format_exception")!)),
            PyHandle(modules)
        )
    }

    /// The embedded interpreter's own executable, so `sys.prefix` and the standard library are
    /// its own and not those of whichever `python3` comes first on PATH.
    private static func programName() -> String {
        let candidates = [
            "/usr/bin/python\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION)",
            "/usr/local/bin/python\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION)",
        ]
        return candidates.first { access($0, X_OK) == 0 } ?? "python3"
    }

    /// Runs `body` holding the GIL on the calling thread (for loading and admin work, not calls).
    /// On a fatal signal (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL), Python writes the
    /// crashing thread's traceback to `fd` before the process dies: the log then shows which
    /// script and call crashed a worker process.
    public func writeCrashTracebacks(to fd: Int32) {
        withGIL { _ in
            _ = PyRun_SimpleString("import faulthandler\nfaulthandler.enable(file=\(fd), all_threads=False)\n")
        }
    }

    public func withGIL<T>(_ body: (borrowing GIL) throws -> T) rethrows -> T {
        try GIL.withGIL(body)
    }
}

/// Where script `print` output goes: the server log, a line per entry.
let scriptOutputLogger = Logger(label: "pyrpc.script")

private let logStandardOutput: PyCFunction = { _, argument in
    if let argument, let line = PythonText.string(argument) {
        scriptOutputLogger.info("\(line)")
    }
    return pyrpc_none()
}

private let logStandardError: PyCFunction = { _, argument in
    if let argument, let line = PythonText.string(argument) {
        scriptOutputLogger.warning("\(line)")
    }
    return pyrpc_none()
}

/// `os.register_at_fork(after_in_child=...)`: a process a script forks closes the server's
/// descriptors and dies with it (see `pyrpc_after_fork_in_child`).
private let afterForkInChild: PyCFunction = { _, _ in
    pyrpc_after_fork_in_child()
    return pyrpc_none()
}

/// `os._exit(status)`: in a worker process whose call runs it, its connections are handed over
/// and the call answered before the process exits (see `pyrpc_crash_exit`).
private let exitFromScript: PyCFunction = { _, argument in
    guard let argument else { return nil }
    let status = PyLong_AsLong(argument)
    if status == -1, PyErr_Occurred() != nil { return nil }
    pyrpc_crash_exit(Int32(truncatingIfNeeded: status))
}

/// Text of Python `str` objects.
enum PythonText {
    /// The UTF-8 text of a `str`, or nil (error cleared) for non-str or lone surrogates.
    static func string(_ object: UnsafeMutablePointer<PyObject>) -> String? {
        var size: Py_ssize_t = 0
        guard let utf8 = PyUnicode_AsUTF8AndSize(object, &size) else {
            PyErr_Clear()
            return nil
        }
        return String(decoding: UnsafeRawBufferPointer(start: utf8, count: size), as: UTF8.self)
    }

    /// `str(object)`, or a placeholder when even that raises.
    static func describe(_ object: UnsafeMutablePointer<PyObject>) -> String {
        guard let text = PyRef.owning(PyObject_Str(object)) else {
            PyErr_Clear()
            return "<unprintable \(typeName(object))>"
        }
        return string(text.pointer) ?? "<unprintable \(typeName(object))>"
    }

    /// `type(object).__name__`.
    static func typeName(_ object: UnsafeMutablePointer<PyObject>) -> String {
        typeName(ofType: UnsafeMutableRawPointer(Py_TYPE(object)).assumingMemoryBound(to: PyObject.self))
    }

    static func typeName(ofType type: UnsafeMutablePointer<PyObject>) -> String {
        let typeObject = UnsafeMutableRawPointer(type).assumingMemoryBound(to: PyTypeObject.self)
        guard let name = PyRef.owning(PyType_GetName(typeObject)) else {
            PyErr_Clear()
            return "?"
        }
        return string(name.pointer) ?? "?"
    }

    static func make(_ text: String) -> PyRef? {
        var text = text
        let object = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { PyUnicode_FromStringAndSize($0.baseAddress, $0.count) }
        }
        return PyRef.owning(object)
    }
}
