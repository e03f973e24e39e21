import CPython

/// The general Python protocols a return value may follow when it is not exactly the
/// declared type: `__index__` for `int`, `__float__` for `float`, iteration for `List[T]`.
/// This is how values from the scientific stack (numpy scalars and arrays, `Decimal`,
/// `Fraction`) convert, without pyrpc importing any of them. Reached only after the exact
/// type checks fail, so plain values never pay for it.
enum NumberProtocols {
    /// The exact int an object with `__index__` stands for (numpy integer scalars), or nil
    /// (error cleared).
    static func integer(_ object: UnsafeMutablePointer<PyObject>) -> PyRef? {
        guard PyIndex_Check(object) != 0, let value = PyRef.owning(PyNumber_Index(object)) else {
            PyErr_Clear()
            return nil
        }
        // `__index__` of a bool-like (numpy.bool_) is not an int to us.
        guard pyrpc_is_bool(value.pointer) == 0 else { return nil }
        return value
    }

    /// The value of a real number with `__float__` (or `__index__`), or nil (error cleared)
    /// for anything else: text, bytes and complex numbers are never real numbers here.
    static func real(_ object: UnsafeMutablePointer<PyObject>) -> Double? {
        guard pyrpc_is_text_bytes_or_dict(object) == 0, pyrpc_is_complex(object) == 0, !isComplexOnly(object) else { return nil }
        let value = PyFloat_AsDouble(object)
        if value == -1, PyErr_Occurred() != nil {
            PyErr_Clear()
            return nil
        }
        return value
    }

    enum ItemsError: Error {
        case notIterable
        /// Iterating raised: `Type: message`.
        case raised(String)
    }

    /// A list of the items of an iterable, read once.
    static func items(_ object: UnsafeMutablePointer<PyObject>, _ gil: borrowing GIL) throws(ItemsError) -> PyRef {
        guard let iterator = PyRef.owning(PyObject_GetIter(object)) else {
            PyErr_Clear()
            throw .notIterable
        }
        guard let sequence = PyRef.owning(PySequence_List(iterator.pointer)) else {
            throw .raised(PythonException.fetch(gil).summary)
        }
        return sequence
    }

    /// A number that is `numbers.Complex` but not `numbers.Real` (numpy.complex64, which is
    /// no subclass of complex but would convert to a float by dropping its imaginary part).
    private static func isComplexOnly(_ object: UnsafeMutablePointer<PyObject>) -> Bool {
        guard let numbers = PyRef.owning(PyImport_ImportModule("numbers")),
              let complexType = PyRef.owning(PyObject_GetAttrString(numbers.pointer, "Complex")),
              let realType = PyRef.owning(PyObject_GetAttrString(numbers.pointer, "Real"))
        else {
            PyErr_Clear()
            return false
        }
        let isComplex = PyObject_IsInstance(object, complexType.pointer)
        let isReal = PyObject_IsInstance(object, realType.pointer)
        if isComplex < 0 || isReal < 0 { PyErr_Clear() }
        return isComplex == 1 && isReal != 1
    }
}
