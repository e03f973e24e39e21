import CPython
import PyRPCWire

/// A callable from a loaded script. The server calls it through `callEncoded` (JSON text in,
/// JSON text out); there is no other call path.
public final class PythonFunction: @unchecked Sendable {
    public let name: String
    private let handle: PyHandle

    init(name: String, handle: PyHandle) {
        self.name = name
        self.handle = handle
    }

    /// Calls with owned argument pointers (borrowed here); a new reference or nil with the error set.
    func invokeRaw(_ arguments: [UnsafeMutablePointer<PyObject>?], _ gil: borrowing GIL) -> UnsafeMutablePointer<PyObject>? {
        guard let function = handle.pointer else {
            PyErr_SetString(pyrpc_exc_runtime_error(), "function was unloaded")
            return nil
        }
        // Vectorcall only reads the arguments (no PY_VECTORCALL_ARGUMENTS_OFFSET): a mutable
        // view of the caller's array, not a copy of it.
        return arguments.withUnsafeBufferPointer { buffer in
            PyObject_Vectorcall(function, UnsafeMutablePointer(mutating: buffer.baseAddress), buffer.count, nil)
        }
    }

    /// Drops the reference to the function (under the GIL) when its generation retires.
    public func dispose(_ gil: borrowing GIL) {
        handle.dispose(gil)
    }
}

