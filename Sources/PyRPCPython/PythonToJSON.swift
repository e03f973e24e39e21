import CPython
import PyRPCWire

/// Python objects → JSON text or MessagePack (any `ValueWriter`), checked exactly against the
/// declared type: `bool` is not an `int`, an `int` is accepted (and converted) where a `float`
/// is declared, a list or a tuple is accepted for `List[T]`. Written straight into the reply
/// without an intermediate value tree.
enum PythonToJSON {
    static func write<Writer: ValueWriter>(
        _ object: UnsafeMutablePointer<PyObject>, as type: RPCType, into writer: inout Writer, _ gil: borrowing GIL
    ) throws(ValueMismatch) {
        switch type {
        case .bool:
            guard pyrpc_is_bool(object) != 0 else { throw mismatch(object, type) }
            writer.bool(pyrpc_is_true(object) != 0)
        case .int:
            guard pyrpc_is_bool(object) == 0 else { throw mismatch(object, type) }
            if pyrpc_is_long(object) != 0 {
                try writeInteger(object, into: &writer)
            } else if let integer = NumberProtocols.integer(object) {
                // numpy integer scalars and other `__index__` types: written as the int they are.
                try writeInteger(integer.pointer, into: &writer)
            } else {
                throw mismatch(object, type)
            }
        case .float:
            if pyrpc_is_float(object) != 0 {
                writer.double(pyrpc_float_value(object))
                return
            }
            guard pyrpc_is_bool(object) == 0 else { throw mismatch(object, type) }
            if pyrpc_is_long(object) != 0 {
                let value = PyLong_AsDouble(object)
                if value == -1, PyErr_Occurred() != nil {
                    PyErr_Clear()
                    throw ValueMismatch(path: [], expected: type, found: "an int too large for a float")
                }
                writer.double(value)
            } else if let value = NumberProtocols.real(object) {
                // numpy floating scalars, Decimal, Fraction: any real number with `__float__`.
                writer.double(value)
            } else {
                throw mismatch(object, type)
            }
        case .str:
            guard pyrpc_is_unicode(object) != 0 else { throw mismatch(object, type) }
            var size: Py_ssize_t = 0
            guard let utf8 = PyUnicode_AsUTF8AndSize(object, &size) else {
                PyErr_Clear()
                throw ValueMismatch(path: [], expected: type, found: "a str with lone surrogates (not valid Unicode text)")
            }
            utf8.withMemoryRebound(to: UInt8.self, capacity: size) {
                writer.string(utf8: UnsafeBufferPointer(start: $0, count: size))
            }
        case .list(let elementType):
            let isList = pyrpc_is_list(object) != 0
            if isList || pyrpc_is_tuple(object) != 0 {
                let count = isList ? PyList_GET_SIZE(object) : PyTuple_GET_SIZE(object)
                try writeElements(count, as: elementType, into: &writer, gil) { index in
                    isList ? pyrpc_list_get(object, index)! : pyrpc_tuple_get(object, index)!
                }
                return
            }
            // Any other iterable but text, bytes and mappings: numpy arrays (of any dimension,
            // as nested lists), ranges, generators, sets.
            guard pyrpc_is_text_bytes_or_dict(object) == 0 else { throw mismatch(object, type) }
            // numpy arrays of numbers: straight from their memory, no Python object per element.
            if BufferResults.write(object, as: type, into: &writer, gil) { return }
            let items: PyRef
            do {
                items = try NumberProtocols.items(object, gil)
            } catch {
                switch error {
                case .notIterable: throw mismatch(object, type)
                case .raised(let summary):
                    throw ValueMismatch(path: [], expected: type, found: "\(PythonText.typeName(object)) whose iteration raised \(summary)")
                }
            }
            let list = items.pointer  // borrowed by the closure while `items` owns it
            try writeElements(pyrpc_fast_size(list), as: elementType, into: &writer, gil) { index in
                pyrpc_fast_item(list, index)!
            }
            _ = consume items
        }
    }

    /// `[a,b,...]`: `count` items, each read by `item` (borrowed) and written as `elementType`.
    private static func writeElements<Writer: ValueWriter>(
        _ count: Int, as elementType: RPCType, into writer: inout Writer, _ gil: borrowing GIL,
        item: (Int) -> UnsafeMutablePointer<PyObject>
    ) throws(ValueMismatch) {
        // Numbers have a longest text (ints beyond 64 bits aside): room for all at once.
        switch elementType {
        case .float: writer.reserve(numbers: count, longestText: JSONWriter.longestDouble, lists: 1)
        case .int: writer.reserve(numbers: count, longestText: JSONWriter.longestInt, lists: 1)
        default: break
        }
        writer.beginList(count: count)
        for index in 0..<count {
            if index > 0 { writer.listSeparator() }
            do {
                try write(item(index), as: elementType, into: &writer, gil)
            } catch var inner {
                inner.path.append("element \(index)")
                throw inner
            }
        }
        writer.endList()
    }

    /// An exact `int` (not bool), of any size.
    private static func writeInteger<Writer: ValueWriter>(_ object: UnsafeMutablePointer<PyObject>, into writer: inout Writer) throws(ValueMismatch) {
        var overflow: Int32 = 0
        let value = PyLong_AsLongLongAndOverflow(object, &overflow)
        if overflow == 0, !(value == -1 && PyErr_Occurred() != nil) {
            writer.int(Int(value))
            return
        }
        PyErr_Clear()
        // Base-10 text of the int itself: `str()` could be overridden by an int subclass.
        guard let text = PyRef.owning(PyNumber_ToBase(object, 10)) else {
            PyErr_Clear()
            throw ValueMismatch(path: [], expected: .int, found: "an int that cannot be written")
        }
        var size: Py_ssize_t = 0
        guard let utf8 = PyUnicode_AsUTF8AndSize(text.pointer, &size) else {
            PyErr_Clear()
            throw ValueMismatch(path: [], expected: .int, found: "an int that cannot be written")
        }
        writer.bigInt(digits: UnsafeRawBufferPointer(start: utf8, count: size))
    }

    private static func mismatch(_ object: UnsafeMutablePointer<PyObject>, _ type: RPCType) -> ValueMismatch {
        var excerpt = PythonText.reprExcerpt(object)
        if !excerpt.isEmpty { excerpt = " " + excerpt }
        return ValueMismatch(path: [], expected: type, found: "\(PythonText.typeName(object))\(excerpt)")
    }
}

extension PythonText {
    /// `repr(object)` cut to 40 characters, or "" when repr raises.
    static func reprExcerpt(_ object: UnsafeMutablePointer<PyObject>) -> String {
        guard let repr = PyRef.owning(PyObject_Repr(object)), let text = string(repr.pointer) else {
            PyErr_Clear()
            return ""
        }
        return text.count > 40 ? String(text.prefix(37)) + "..." : text
    }
}
