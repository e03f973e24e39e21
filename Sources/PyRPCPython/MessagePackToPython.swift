import CPython
import PyRPCWire

/// Reads the MessagePack bytes of a request's `arguments` straight into the Python objects the
/// function receives, directed by the declared types, as `JSONToPython` reads JSON text: a
/// list of 100,000 float64s becomes a list of 100,000 floats without a `JSONValue` between.
///
/// The bytes were checked when the request was read (`RPCRequest.parseFastMessagePack`), so
/// nothing here is malformed. Values a fast path does not cover (a str such as `"42"` for an
/// `int`, a big int) are read as a value and go through `ValueCoercion`, so both paths accept
/// exactly what a MessagePack request read as values accepts, with the same messages; and as
/// there, the count of arguments is checked first.
enum MessagePackToPython {
    /// The arguments list is the body map's value: the list sits at depth 3, as
    /// `MessagePackReader` counts, and its elements are read at that depth.
    private static let argumentsDepth = 3

    /// New references, one per argument, in order.
    static func arguments(_ bytes: ArgumentBytes, types: [RPCType], _ gil: borrowing GIL) throws(ArgumentFailure) -> [UnsafeMutablePointer<PyObject>?] {
        var objects: [UnsafeMutablePointer<PyObject>?] = []
        objects.reserveCapacity(types.count)
        let result: Result<Void, ArgumentFailure> = bytes.withUnsafeBytes { raw in
            var scanner = MessagePackScanner(bytes: raw)
            guard let count = scanner.arrayHeader() else { return .failure(.malformed("'arguments' must be a list")) }
            guard count == types.count else { return .failure(.count(sent: count, expected: types.count)) }
            for (index, type) in types.enumerated() {
                do throws(ArgumentFailure) {
                    objects.append(try value(&scanner, type, depth: argumentsDepth, gil))
                } catch {
                    guard case .mismatch(var mismatch) = error else { return .failure(error) }
                    mismatch.path.append("argument \(index + 1)")
                    return .failure(.mismatch(mismatch))
                }
            }
            return .success(())
        }
        if case .failure(let failure) = result {
            for object in objects { Py_DecRef(object) }
            throw failure
        }
        return objects
    }

    private static func value(_ scanner: inout MessagePackScanner, _ type: RPCType, depth: Int, _ gil: borrowing GIL) throws(ArgumentFailure) -> UnsafeMutablePointer<PyObject> {
        switch type {
        case .float:
            if let number = scanner.double() ?? scanner.integer().map(Double.init) { return try made(PyFloat_FromDouble(number)) }
        case .int:
            if let number = scanner.integer() { return try made(PyLong_FromLongLong(Int64(number))) }
        case .str:
            let start = scanner.index
            if let utf8 = scanner.stringBytes() {
                let pointer = utf8.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) } ?? UnsafePointer(bitPattern: 1)!
                if let object = PyUnicode_DecodeUTF8(pointer, utf8.count, "strict") { return object }
                PyErr_Clear()
                scanner.index = start  // the general path says what is wrong with it
            }
        case .bool:
            if let truth = scanner.bool() { return pyrpc_bool(truth ? 1 : 0) }
        case .list(let element):
            if let count = scanner.arrayHeader() { return try list(&scanner, count: count, of: element, depth: depth + 1, gil) }
        }
        // General path: this one value read as a value and coerced as a request read as
        // values is (`OverloadResolver`).
        let read: JSONValue
        do { read = try scanner.readValue(depth: depth) } catch { throw .malformed(error.description) }
        let canonical: JSONValue
        do { canonical = try ValueCoercion.coerce(read, to: type) } catch { throw .mismatch(error) }
        guard let object = ValueToPython.convert(canonical, as: type, gil) else {
            throw .malformed(PythonException.fetch(gil).summary)
        }
        return object.release()
    }

    /// A list of `count` elements, its header read. Runs of float64s for `float`, the bulk
    /// case, are read in one loop (`MessagePackScanner.float64s`).
    private static func list(
        _ scanner: inout MessagePackScanner, count: Int, of element: RPCType, depth: Int, _ gil: borrowing GIL
    ) throws(ArgumentFailure) -> UnsafeMutablePointer<PyObject> {
        let list = try made(PyList_New(count))
        var index = 0
        var outOfMemory = false
        while index < count {
            if case .float = element {
                _ = scanner.float64s(upTo: count - index) { number in
                    guard !outOfMemory, let item = pyrpc_new_float(number) else { return outOfMemory = true }
                    PyList_SET_ITEM(list, index, item)
                    index += 1
                }
                guard !outOfMemory else { break }
                guard index < count else { break }
            }
            do {
                PyList_SET_ITEM(list, index, try value(&scanner, element, depth: depth, gil))
            } catch {
                Py_DecRef(list)  // its unset items are NULL, which a list's release skips
                guard case .mismatch(var mismatch) = error else { throw error }
                mismatch.path.append("element \(index)")
                throw .mismatch(mismatch)
            }
            index += 1
        }
        guard index == count else {
            Py_DecRef(list)
            throw .malformed("out of memory")
        }
        return list
    }

    /// A new object, or the failure to make one (out of memory).
    @inline(__always)
    private static func made(_ object: UnsafeMutablePointer<PyObject>?) throws(ArgumentFailure) -> UnsafeMutablePointer<PyObject> {
        guard let object else {
            PyErr_Clear()
            throw .malformed("out of memory")
        }
        return object
    }
}
