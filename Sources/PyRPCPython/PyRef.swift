import CPython

/// One owned (strong) reference to a Python object; released when dropped.
///
/// Non-copyable so a reference cannot be released twice, and not Sendable so it cannot
/// leave the thread that holds the GIL. Raw `PyObject` pointers never leave this module.
struct PyRef: ~Copyable {
    let pointer: UnsafeMutablePointer<PyObject>

    /// Takes ownership of a *new* reference returned by the C API.
    init(owning pointer: UnsafeMutablePointer<PyObject>) {
        self.pointer = pointer
    }

    /// Takes ownership of a new reference, or `nil` when the API returned NULL (error set).
    static func owning(_ pointer: UnsafeMutablePointer<PyObject>?) -> PyRef? {
        guard let pointer else { return nil }
        return PyRef(owning: pointer)
    }

    /// Adds a reference to a *borrowed* pointer so it can be held.
    init(borrowing pointer: UnsafeMutablePointer<PyObject>) {
        Py_IncRef(pointer)
        self.pointer = pointer
    }

    /// Hands the reference to a C API that steals it (e.g. `PyList_SET_ITEM`).
    consuming func release() -> UnsafeMutablePointer<PyObject> {
        let pointer = self.pointer
        discard self
        return pointer
    }

    deinit {
        Py_DecRef(pointer)
    }
}

/// A reference kept across calls (a loaded function or module). Only touched while the GIL
/// is held; `dispose` must be called under the GIL when the owner retires it.
final class PyHandle: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<PyObject>?

    init(_ reference: consuming PyRef) {
        pointer = reference.release()
    }

    func dispose(_ gil: borrowing GIL) {
        if let pointer { Py_DecRef(pointer) }
        pointer = nil
    }
}
