import CPython

/// The items of a list being read whose length is known only at its end (JSON), kept in a
/// block from `PyMem_Realloc` that the finished list takes as its own storage
/// (`pyrpc_list_adopting`). A list of 100,000 floats is then neither copied into its list
/// nor grown through a Swift array's uniqueness checks. Use with the GIL held (PyMem).
struct ListItems {
    private var base: UnsafeMutablePointer<UnsafeMutablePointer<PyObject>?>?
    private(set) var count = 0
    private var capacity = 0

    /// Takes a new reference (nil: the object could not be made).
    @inline(__always)
    mutating func append(_ item: UnsafeMutablePointer<PyObject>?) throws(ArgumentFailure) {
        guard let item else {
            PyErr_Clear()
            throw .malformed("out of memory")
        }
        if count == capacity, !grow() {
            Py_DecRef(item)
            throw .malformed("out of memory")
        }
        base.unsafelyUnwrapped[count] = item
        count += 1
    }

    private mutating func grow() -> Bool {
        let grown = max(16, capacity * 2)
        guard let block = PyMem_Realloc(base, grown * MemoryLayout<UnsafeMutablePointer<PyObject>?>.stride) else { return false }
        base = block.assumingMemoryBound(to: UnsafeMutablePointer<PyObject>?.self)
        capacity = grown
        return true
    }

    /// The list, owning the items and their block (none for an empty list: `append` makes
    /// the block); on failure (out of memory) everything is released. Afterwards this holds
    /// nothing, so a `release` that follows does nothing.
    mutating func makeList() throws(ArgumentFailure) -> UnsafeMutablePointer<PyObject> {
        guard let list = pyrpc_list_adopting(base, count, capacity) else {
            PyErr_Clear()
            release()
            throw .malformed("out of memory")
        }
        base = nil
        count = 0
        capacity = 0
        return list
    }

    /// Releases the items and their block (the list was not read to its end).
    mutating func release() {
        for index in 0..<count { Py_DecRef(base.unsafelyUnwrapped[index]) }
        PyMem_Free(base)
        base = nil
        count = 0
        capacity = 0
    }
}
