import CPython
import PyRPCWire

/// What happened when a function ran.
public enum CallOutcome: Sendable, Equatable {
    case returned([JSONValue])
    /// The function raised: `ExceptionType: message`, and the traceback for the log.
    case raised(summary: String, traceback: String)
    /// The function returned something its declared return types do not allow.
    case badReturn(String)
    /// The server's timeout interrupted it.
    case interrupted
}

/// A callable from a loaded script.
public final class PythonFunction: @unchecked Sendable {
    public let name: String
    private let handle: PyHandle

    init(name: String, handle: PyHandle) {
        self.name = name
        self.handle = handle
    }

    /// Calls the function with canonical values (see `ValueCoercion`) and checks the result
    /// against `returns`: one declared type → the value itself; none → `None`; several → a
    /// tuple or list of that length.
    public func call(_ arguments: [JSONValue], types: [RPCType], returns: [RPCType], _ gil: borrowing GIL) -> CallOutcome {
        guard let function = handle.pointer else { return .raised(summary: "RuntimeError: function was unloaded", traceback: "") }
        var pointers: [UnsafeMutablePointer<PyObject>?] = []
        pointers.reserveCapacity(arguments.count)
        defer { for pointer in pointers { Py_DecRef(pointer) } }
        for (value, type) in zip(arguments, types) {
            guard let object = ValueToPython.convert(value, as: type, gil) else { return raised(gil) }
            pointers.append(object.release())
        }
        let resultPointer = pointers.withUnsafeMutableBufferPointer { buffer in
            PyObject_Vectorcall(function, buffer.baseAddress, buffer.count, nil)
        }
        guard let result = PyRef.owning(resultPointer) else { return raised(gil) }
        do {
            return .returned(try Self.unpack(result.pointer, returns, gil))
        } catch {
            return .badReturn(error.message)
        }
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

    private func raised(_ gil: borrowing GIL) -> CallOutcome {
        let exception = PythonException.fetch(gil)
        if exception.isTimeout { return .interrupted }
        return .raised(summary: exception.summary, traceback: exception.traceback)
    }

    private struct ReturnMismatch: Error {
        let message: String
    }

    private static func unpack(_ result: UnsafeMutablePointer<PyObject>, _ returns: [RPCType], _ gil: borrowing GIL) throws(ReturnMismatch) -> [JSONValue] {
        switch returns.count {
        case 0:
            guard pyrpc_is_none(result) != 0 else {
                throw ReturnMismatch(message: "it returned \(PythonText.typeName(result)), but it declares no return values and must return None")
            }
            return []
        case 1:
            do {
                return [try PythonToValue.convert(result, as: returns[0], gil)]
            } catch var mismatch {
                mismatch.path.append("the return value")
                throw ReturnMismatch(message: mismatch.description)
            }
        default:
            let isList = pyrpc_is_list(result) != 0
            guard isList || pyrpc_is_tuple(result) != 0 else {
                throw ReturnMismatch(message: "it returned \(PythonText.typeName(result)), but it declares \(returns.count) return values (return a tuple)")
            }
            let count = isList ? PyList_GET_SIZE(result) : PyTuple_GET_SIZE(result)
            guard count == returns.count else {
                throw ReturnMismatch(message: "it returned \(count) values, but it declares \(returns.count) return values")
            }
            var values: [JSONValue] = []
            for (index, type) in returns.enumerated() {
                let item = isList ? pyrpc_list_get(result, index)! : pyrpc_tuple_get(result, index)!
                do {
                    values.append(try PythonToValue.convert(item, as: type, gil))
                } catch var mismatch {
                    mismatch.path.append("return value \(index + 1)")
                    throw ReturnMismatch(message: mismatch.description)
                }
            }
            return values
        }
    }

    /// Drops the reference to the function (under the GIL) when its generation retires.
    public func dispose(_ gil: borrowing GIL) {
        handle.dispose(gil)
    }
}

