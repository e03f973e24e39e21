import CPython
import PyRPCWire

/// Wire values → Python objects, directed by the declared type. Values have already been
/// brought to canonical form by `ValueCoercion`, so a mismatch here is a programming error.
enum ValueToPython {
    static func convert(_ value: JSONValue, as type: RPCType, _ gil: borrowing GIL) -> PyRef? {
        switch (type, value) {
        case (.int, .int(let i)):
            return PyRef.owning(PyLong_FromLongLong(Int64(i)))
        case (.int, .bigInt(let text)):
            return PyRef.owning(PyLong_FromString(text, nil, 10))
        case (.float, .float(let d)):
            return PyRef.owning(PyFloat_FromDouble(d))
        case (.float, .int(let i)):
            return PyRef.owning(PyFloat_FromDouble(Double(i)))
        case (.str, .string(let s)):
            return PythonText.make(s)
        case (.bool, .bool(let b)):
            return PyRef(owning: pyrpc_bool(b ? 1 : 0))
        case (.list(.float), .array(let elements)):
            return floats(elements)
        case (.list(let elementType), .array(let elements)):
            guard let list = PyRef.owning(PyList_New(elements.count)) else { return nil }
            for (index, element) in elements.enumerated() {
                guard let item = convert(element, as: elementType, gil) else { return nil }
                PyList_SET_ITEM(list.pointer, index, item.release())
            }
            return list
        default:
            PyErr_SetString(pyrpc_exc_runtime_error(), "pyrpc: \(value.kindName) was not coerced to \(type)")
            return nil
        }
    }

    /// `List[float]`, the bulk case (100,000 numbers from MessagePack): one loop over the
    /// values in place, without copying each one out (a value copy of `JSONValue` is a call
    /// that switches on its case).
    private static func floats(_ elements: [JSONValue]) -> PyRef? {
        guard let list = PyRef.owning(PyList_New(elements.count)) else { return nil }
        let filled = elements.withUnsafeBufferPointer { values -> Bool in
            for index in values.indices {
                let number: Double
                switch values[index] {
                case .float(let value): number = value
                case .int(let value): number = Double(value)
                default:
                    PyErr_SetString(pyrpc_exc_runtime_error(), "pyrpc: \(values[index].kindName) was not coerced to float")
                    return false
                }
                guard let item = PyFloat_FromDouble(number) else { return false }
                PyList_SET_ITEM(list.pointer, index, item)
            }
            return true
        }
        guard filled else { return nil }
        return list
    }
}
