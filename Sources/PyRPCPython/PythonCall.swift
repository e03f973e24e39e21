import CPython

enum PythonCall {
    /// Calls `callable` with positional arguments (borrowed); returns a new reference or nil
    /// with the Python error set.
    static func vectorcall(_ callable: UnsafeMutablePointer<PyObject>, _ arguments: [UnsafeMutablePointer<PyObject>]) -> PyRef? {
        var arguments = arguments.map { Optional($0) }
        let result = arguments.withUnsafeMutableBufferPointer { buffer in
            PyObject_Vectorcall(callable, buffer.baseAddress, buffer.count, nil)
        }
        return PyRef.owning(result)
    }
}
