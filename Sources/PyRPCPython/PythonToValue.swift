import CPython
import PyRPCWire

/// Python objects → wire values, checked exactly against the declared type: `bool` is not
/// an `int`, an `int` is accepted (and converted) where a `float` is declared, a list or a
/// tuple is accepted for `List[T]`.
enum PythonToValue {
    static func convert(_ object: UnsafeMutablePointer<PyObject>, as type: RPCType, _ gil: borrowing GIL) throws(ValueMismatch) -> JSONValue {
        switch type {
        case .bool:
            guard pyrpc_is_bool(object) != 0 else { throw mismatch(object, type) }
            return .bool(pyrpc_is_true(object) != 0)
        case .int:
            guard pyrpc_is_long(object) != 0, pyrpc_is_bool(object) == 0 else { throw mismatch(object, type) }
            return integer(object)
        case .float:
            if pyrpc_is_float(object) != 0 { return .float(pyrpc_float_value(object)) }
            guard pyrpc_is_long(object) != 0, pyrpc_is_bool(object) == 0 else { throw mismatch(object, type) }
            let value = PyLong_AsDouble(object)
            if value == -1, PyErr_Occurred() != nil {
                PyErr_Clear()
                throw ValueMismatch(path: [], expected: type, found: "an int too large for a float")
            }
            return .float(value)
        case .str:
            guard pyrpc_is_unicode(object) != 0 else { throw mismatch(object, type) }
            guard let text = PythonText.string(object) else {
                throw ValueMismatch(path: [], expected: type, found: "a str with lone surrogates (not valid Unicode text)")
            }
            return .string(text)
        case .list(let elementType):
            let isList = pyrpc_is_list(object) != 0
            guard isList || pyrpc_is_tuple(object) != 0 else { throw mismatch(object, type) }
            let count = isList ? PyList_GET_SIZE(object) : PyTuple_GET_SIZE(object)
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for index in 0..<count {
                let item = isList ? pyrpc_list_get(object, index)! : pyrpc_tuple_get(object, index)!
                do {
                    elements.append(try convert(item, as: elementType, gil))
                } catch var inner {
                    inner.path.append("element \(index)")
                    throw inner
                }
            }
            return .array(elements)
        }
    }

    private static func integer(_ object: UnsafeMutablePointer<PyObject>) -> JSONValue {
        var overflow: Int32 = 0
        let value = PyLong_AsLongLongAndOverflow(object, &overflow)
        if overflow == 0 {
            if value == -1, PyErr_Occurred() != nil { PyErr_Clear() } else { return .int(Int(value)) }
        }
        // Base-10 text of the int itself: `str()` could be overridden by an int subclass.
        guard let text = PyRef.owning(PyNumber_ToBase(object, 10)), let digits = PythonText.string(text.pointer) else {
            PyErr_Clear()
            return .bigInt("0")
        }
        return .bigInt(digits)
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
