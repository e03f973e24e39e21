import CPython

/// A Python exception taken off the thread's error indicator (so nothing is printed, and
/// `SystemExit` never reaches `PyErr_Print`, which would exit the host).
struct PythonException: Error, Sendable {
    /// `ZeroDivisionError`, `SystemExit`...
    var typeName: String
    /// `str(exception)`; may be empty.
    var message: String
    /// The formatted traceback, for the log.
    var traceback: String
    /// Raised by the server's timeout.
    var isTimeout: Bool
    /// For `SyntaxError`s: where the compiler stopped.
    var line: Int?
    var column: Int?

    /// `ZeroDivisionError: division by zero`, as Python prints the last traceback line.
    var summary: String { message.isEmpty ? typeName : "\(typeName): \(message)" }

    /// Fetches and clears the current exception. Call only when one is set.
    static func fetch(_ gil: borrowing GIL) -> PythonException {
        var type: UnsafeMutablePointer<PyObject>?
        var value: UnsafeMutablePointer<PyObject>?
        var traceback: UnsafeMutablePointer<PyObject>?
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        defer {
            Py_DecRef(type)
            Py_DecRef(value)
            Py_DecRef(traceback)
        }
        if let value, let traceback { PyException_SetTraceback(value, traceback) }

        guard let type else {
            return PythonException(typeName: "SystemError", message: "error indicator set without an exception", traceback: "", isTimeout: false)
        }
        var exception = PythonException(
            typeName: PythonText.typeName(ofType: type),
            message: value.map { PythonText.describe($0) } ?? "",
            traceback: "",
            isTimeout: PyErr_GivenExceptionMatches(type, PythonRuntime.shared.timeoutType.pointer) != 0)
        if let value, PyErr_GivenExceptionMatches(type, pyrpc_exc_syntax_error()) != 0 {
            exception.line = integerAttribute(value, "lineno")
            exception.column = integerAttribute(value, "offset")
            if let messageObject = PyObject_GetAttrString(value, "msg") {
                exception.message = PythonText.string(messageObject) ?? exception.message
                Py_DecRef(messageObject)
            } else {
                PyErr_Clear()
            }
        }
        exception.traceback = format(type: type, value: value, traceback: traceback)
        return exception
    }

    private static func integerAttribute(_ object: UnsafeMutablePointer<PyObject>, _ name: String) -> Int? {
        guard let attribute = PyRef.owning(PyObject_GetAttrString(object, name)) else {
            PyErr_Clear()
            return nil
        }
        guard pyrpc_is_long(attribute.pointer) != 0 else { return nil }
        let value = PyLong_AsLong(attribute.pointer)
        if value == -1, PyErr_Occurred() != nil {
            PyErr_Clear()
            return nil
        }
        return value
    }

    private static func format(
        type: UnsafeMutablePointer<PyObject>, value: UnsafeMutablePointer<PyObject>?, traceback: UnsafeMutablePointer<PyObject>?
    ) -> String {
        let none = PyRef(owning: pyrpc_none())
        guard let formatter = PythonRuntime.shared.formatException.pointer,
            let lines = PythonCall.vectorcall(formatter, [type, value ?? none.pointer, traceback ?? none.pointer]),
            let empty = PythonText.make(""),
            let joined = PyRef.owning(PyUnicode_Join(empty.pointer, lines.pointer))
        else {
            PyErr_Clear()
            return ""
        }
        return PythonText.string(joined.pointer) ?? ""
    }
}
