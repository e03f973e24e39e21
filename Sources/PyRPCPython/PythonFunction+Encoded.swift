import CPython
import PyRPCWire

/// What happened when a function ran on the server's fast path.
public enum EncodedOutcome: Sendable, Equatable {
    /// The JSON text of the `return-values` list is in the caller's writer.
    case returned
    /// An argument did not fit its type, or the count was wrong; the function did not run.
    case invalidArguments(String)
    /// The arguments were not valid JSON.
    case malformed(String)
    case raised(summary: String, traceback: String)
    case badReturn(String)
    case interrupted
}

extension PythonFunction {
    /// The server's call path: arguments parsed from raw JSON text straight into Python
    /// objects (or converted from `values` when there is no raw text), the result written
    /// straight into JSON text, both checked against the declared types.
    ///
    /// The `return-values` list is appended to `writer`, which may already hold the start of
    /// the answer (so the answer is written once, not copied around its values). On any
    /// outcome but `.returned` the writer may hold part of a list: discard it.
    public func callEncoded(
        rawArguments: ArgumentBytes?, values: [JSONValue], types: [RPCType], returns: [RPCType], into writer: inout JSONWriter,
        _ gil: borrowing GIL
    ) -> EncodedOutcome {
        call(rawArguments: rawArguments, values: values, types: types, returns: returns, into: &writer, gil)
    }

    /// The same in MessagePack: raw arguments as MessagePack bytes (checked when the request
    /// was read), the `return-values` array written as MessagePack.
    public func callEncoded(
        rawArguments: ArgumentBytes?, values: [JSONValue], types: [RPCType], returns: [RPCType], into writer: inout MessagePackWriter,
        _ gil: borrowing GIL
    ) -> EncodedOutcome {
        call(rawArguments: rawArguments, values: values, types: types, returns: returns, into: &writer, gil)
    }

    /// Both encodings' call, specialized for each by the compiler (it is called with concrete
    /// writers in this module only); raw arguments are read in the writer's encoding.
    private func call<Writer: ValueWriter>(
        rawArguments: ArgumentBytes?, values: [JSONValue], types: [RPCType], returns: [RPCType], into writer: inout Writer,
        _ gil: borrowing GIL
    ) -> EncodedOutcome {
        var pointers: [UnsafeMutablePointer<PyObject>?] = []
        defer { for pointer in pointers { Py_DecRef(pointer) } }
        if let rawArguments {
            do {
                if Writer.self == MessagePackWriter.self {
                    pointers = try MessagePackToPython.arguments(rawArguments, types: types, gil)
                } else {
                    pointers = try JSONToPython.arguments(rawArguments, types: types, gil)
                }
            } catch {
                switch error {
                case .mismatch(let mismatch): return .invalidArguments(mismatch.description)
                case .count(let sent, let expected): return .invalidArguments(ValueCoercion.countMismatch(sent: sent, expected: expected))
                case .malformed(let message): return .malformed(message)
                }
            }
        } else {
            guard values.count == types.count else {
                return .invalidArguments(ValueCoercion.countMismatch(sent: values.count, expected: types.count))
            }
            for (value, type) in zip(values, types) {
                guard let object = ValueToPython.convert(value, as: type, gil) else {
                    return .malformed(PythonException.fetch(gil).summary)
                }
                pointers.append(object.release())
            }
        }
        guard let result = invokeRaw(pointers, gil) else {
            let exception = PythonException.fetch(gil)
            if exception.isTimeout { return .interrupted }
            return .raised(summary: exception.summary, traceback: exception.traceback)
        }
        defer { Py_DecRef(result) }
        writer.beginList(count: returns.count)
        do throws(ValueMismatch) {
            switch returns.count {
            case 0:
                guard pyrpc_is_none(result) != 0 else {
                    return .badReturn("it returned \(PythonText.typeName(result)), but it declares no return values and must return None")
                }
            case 1:
                do {
                    try PythonToJSON.write(result, as: returns[0], into: &writer, gil)
                } catch var mismatch {
                    mismatch.path.append("the return value")
                    throw mismatch
                }
            default:
                let isList = pyrpc_is_list(result) != 0
                guard isList || pyrpc_is_tuple(result) != 0 else {
                    return .badReturn("it returned \(PythonText.typeName(result)), but it declares \(returns.count) return values (return a tuple)")
                }
                let count = isList ? PyList_GET_SIZE(result) : PyTuple_GET_SIZE(result)
                guard count == returns.count else {
                    return .badReturn("it returned \(count) values, but it declares \(returns.count) return values")
                }
                for (index, type) in returns.enumerated() {
                    if index > 0 { writer.listSeparator() }
                    let item = isList ? pyrpc_list_get(result, index)! : pyrpc_tuple_get(result, index)!
                    do {
                        try PythonToJSON.write(item, as: type, into: &writer, gil)
                    } catch var mismatch {
                        mismatch.path.append("return value \(index + 1)")
                        throw mismatch
                    }
                }
            }
        } catch {
            return .badReturn(error.description)
        }
        writer.endList()
        return .returned
    }
}
