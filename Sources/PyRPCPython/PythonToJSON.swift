import CPython
import PyRPCWire

/// Python objects → JSON text, checked exactly against the declared type: `bool` is not an
/// `int`, an `int` is accepted (and converted) where a `float` is declared, a list or a tuple
/// is accepted for `List[T]`. Written straight into the reply without an intermediate value
/// tree.
enum PythonToJSON {
    static func write(_ object: UnsafeMutablePointer<PyObject>, as type: RPCType, into writer: inout JSONWriter, _ gil: borrowing GIL) throws(ValueMismatch) {
        switch type {
        case .bool:
            guard pyrpc_is_bool(object) != 0 else { throw mismatch(object, type) }
            pyrpc_is_true(object) != 0 ? writer.raw("true") : writer.raw("false")
        case .int:
            guard pyrpc_is_long(object) != 0, pyrpc_is_bool(object) == 0 else { throw mismatch(object, type) }
            var overflow: Int32 = 0
            let value = PyLong_AsLongLongAndOverflow(object, &overflow)
            if overflow == 0, !(value == -1 && PyErr_Occurred() != nil) {
                writer.int(Int(value))
            } else {
                PyErr_Clear()
                guard let text = PyRef.owning(PyNumber_ToBase(object, 10)) else {
                    PyErr_Clear()
                    throw ValueMismatch(path: [], expected: type, found: "an int that cannot be written")
                }
                var size: Py_ssize_t = 0
                guard let utf8 = PyUnicode_AsUTF8AndSize(text.pointer, &size) else {
                    PyErr_Clear()
                    throw ValueMismatch(path: [], expected: type, found: "an int that cannot be written")
                }
                writer.raw(bytes: UnsafeRawBufferPointer(start: utf8, count: size))
            }
        case .float:
            if pyrpc_is_float(object) != 0 {
                writer.double(pyrpc_float_value(object))
                return
            }
            guard pyrpc_is_long(object) != 0, pyrpc_is_bool(object) == 0 else { throw mismatch(object, type) }
            let value = PyLong_AsDouble(object)
            if value == -1, PyErr_Occurred() != nil {
                PyErr_Clear()
                throw ValueMismatch(path: [], expected: type, found: "an int too large for a float")
            }
            writer.double(value)
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
            guard isList || pyrpc_is_tuple(object) != 0 else { throw mismatch(object, type) }
            let count = isList ? PyList_GET_SIZE(object) : PyTuple_GET_SIZE(object)
            writer.raw(UInt8(ascii: "["))
            for index in 0..<count {
                if index > 0 { writer.raw(UInt8(ascii: ",")) }
                let item = isList ? pyrpc_list_get(object, index)! : pyrpc_tuple_get(object, index)!
                do {
                    try write(item, as: elementType, into: &writer, gil)
                } catch var inner {
                    inner.path.append("element \(index)")
                    throw inner
                }
            }
            writer.raw(UInt8(ascii: "]"))
        }
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
