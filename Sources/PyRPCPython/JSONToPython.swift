import CPython
import PyRPCWire

/// Why raw arguments could not become Python objects.
enum ArgumentFailure: Error {
    /// A value does not fit its declared type.
    case mismatch(ValueMismatch)
    /// The list has a different number of values than there are argument types.
    case count(sent: Int, expected: Int)
    /// Not valid JSON (the network thread only checked its brackets).
    case malformed(String)
}

/// Parses the JSON text of a request's `arguments` straight into the Python objects the
/// function receives, directed by the declared types — no intermediate value tree. Values
/// a fast path does not cover (course-style strings such as `"42"` for an `int`) go through
/// the general parser and `ValueCoercion`, so both paths accept exactly the same input.
enum JSONToPython {
    /// New references, one per argument, in order.
    static func arguments(_ json: ArgumentBytes, types: [RPCType], _ gil: borrowing GIL) throws(ArgumentFailure) -> [UnsafeMutablePointer<PyObject>?] {
        // Optional pointers: the form `PyObject_Vectorcall` takes, so the call needs no copy.
        var objects: [UnsafeMutablePointer<PyObject>?] = []
        objects.reserveCapacity(types.count)
        let result: Result<Void, ArgumentFailure> = json.withUnsafeBytes { bytes in
            var scanner = JSONScanner(bytes: bytes)
            do throws(ArgumentFailure) {
                try parseList(&scanner, types: types, into: &objects, gil)
                scanner.skipWhitespace()
                guard scanner.index == bytes.count else { throw .malformed("not valid JSON: \(scanner.error("unexpected text after the arguments list"))") }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let failure) = result {
            for object in objects { Py_DecRef(object) }
            // Reading stops at the first value that does not fit; the rest of the text must
            // still be valid JSON, or the request is a Bad Request whatever it asked for.
            if case .malformed = failure {} else if let invalid = JSONParser.invalidity(of: json) {
                throw .malformed("not valid JSON: \(invalid)")
            }
            throw failure
        }
        return objects
    }

    private static func parseList(_ scanner: inout JSONScanner, types: [RPCType], into objects: inout [UnsafeMutablePointer<PyObject>?], _ gil: borrowing GIL) throws(ArgumentFailure) {
        scanner.skipWhitespace()
        guard scanner.current == UInt8(ascii: "[") else { throw .malformed("'arguments' must be a list") }
        scanner.index += 1
        scanner.skipWhitespace()
        var sent = 0
        if scanner.current == UInt8(ascii: "]") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipWhitespace()
                if sent < types.count {
                    do {
                        objects.append(try value(&scanner, types[sent], depth: 2, gil))
                    } catch .mismatch(var mismatch) {
                        mismatch.path.append("argument \(sent + 1)")
                        throw .mismatch(mismatch)
                    }
                } else {
                    // An argument too many: read whole (skipValue steps over a scalar outside
                    // a list one byte at a time), so the answer is the count, not Bad Request.
                    do { _ = try scanner.parseValue(depth: 2) } catch { throw .malformed("not valid JSON: \(error)") }
                }
                sent += 1
                scanner.skipWhitespace()
                switch scanner.current {
                case UInt8(ascii: ","): scanner.index += 1
                case UInt8(ascii: "]"): scanner.index += 1
                default: throw .malformed("not valid JSON: \(scanner.error("expected ',' or ']' in list"))")
                }
                if scanner.bytes[scanner.index - 1] == UInt8(ascii: "]") { break }
            }
        }
        guard sent == types.count else { throw .count(sent: sent, expected: types.count) }
    }

    private static func value(_ scanner: inout JSONScanner, _ type: RPCType, depth: Int, _ gil: borrowing GIL) throws(ArgumentFailure) -> UnsafeMutablePointer<PyObject> {
        guard let byte = scanner.current else { throw .malformed("not valid JSON: unexpected end of input") }
        let isNumber = byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        switch type {
        case .float where isNumber:
            if let plain = scanner.scanPlainDouble() { return PyFloat_FromDouble(plain) }
            switch try number(&scanner) {
            case .float(let d): return PyFloat_FromDouble(d)
            case .int(let i): return PyFloat_FromDouble(Double(i))
            case .bigInt(let text): return PyFloat_FromDouble(Double(text) ?? .nan)
            default: break
            }
        case .int where isNumber:
            if let plain = scanner.scanPlainInt() { return PyLong_FromLongLong(Int64(plain)) }
            let start = scanner.index
            switch try number(&scanner) {
            case .int(let i): return PyLong_FromLongLong(Int64(i))
            case .bigInt(let text): if let object = PyLong_FromString(text, nil, 10) { return object }
            case let other:
                scanner.index = start
                throw .mismatch(ValueMismatch(path: [], expected: type, found: ValueCoercion.describe(other)))
            }
        case .str where byte == UInt8(ascii: "\""):
            if let object = plainString(&scanner) { return object }
        case .bool where byte == UInt8(ascii: "t") || byte == UInt8(ascii: "f"):
            do { try scanner.expectKeyword(byte == UInt8(ascii: "t") ? "true" : "false") } catch { throw .malformed("not valid JSON: \(error)") }
            return pyrpc_bool(byte == UInt8(ascii: "t") ? 1 : 0)
        case .list(let element) where byte == UInt8(ascii: "["):
            return try list(&scanner, element, depth: depth + 1, gil)
        default:
            break
        }
        // General path: parse this one value, coerce it like the JSON tree path does.
        let parsed: JSONValue
        do { parsed = try scanner.parseValue(depth: depth) } catch { throw .malformed("not valid JSON: \(error)") }
        let canonical: JSONValue
        do { canonical = try ValueCoercion.coerce(parsed, to: type) } catch { throw .mismatch(error) }
        guard let object = ValueToPython.convert(canonical, as: type, gil) else {
            let exception = PythonException.fetch(gil)
            throw .malformed(exception.summary)
        }
        return object.release()
    }

    private static func number(_ scanner: inout JSONScanner) throws(ArgumentFailure) -> JSONValue {
        do { return try scanner.parseNumber() } catch { throw .malformed("not valid JSON: \(error)") }
    }

    /// A string without escapes, made directly from the message bytes; nil (scanner
    /// unmoved) when it has escapes, so the general path handles it.
    private static func plainString(_ scanner: inout JSONScanner) -> UnsafeMutablePointer<PyObject>? {
        let start = scanner.index + 1
        let bytes = scanner.bytes
        let end = ByteScan.firstStringSpecial(in: bytes, from: start)
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else { return nil }
        let pointer = bytes.baseAddress!.advanced(by: start).assumingMemoryBound(to: CChar.self)
        guard let object = PyUnicode_DecodeUTF8(pointer, end - start, "strict") else {
            PyErr_Clear()
            return nil  // invalid UTF-8: the general path reports it
        }
        scanner.index = end + 1
        return object
    }

    /// The list fast path: a run of plain numbers for a `float` or `int` element type, with
    /// their separators. True when it reached the end of the list.
    @inline(__always)
    private static func plainNumbers(_ scanner: inout JSONScanner, _ element: RPCType, into items: inout ListItems) throws(ArgumentFailure) -> Bool {
        switch element {
        case .float: return try scanner.scanPlainDoubles { (number) throws(ArgumentFailure) in try items.append(pyrpc_new_float(number)) }
        case .int: return try scanner.scanPlainInts { (number) throws(ArgumentFailure) in try items.append(PyLong_FromLongLong(Int64(number))) }
        default: return false
        }
    }

    private static func list(_ scanner: inout JSONScanner, _ element: RPCType, depth: Int, _ gil: borrowing GIL) throws(ArgumentFailure) -> UnsafeMutablePointer<PyObject> {
        guard depth <= JSONParser.maximumDepth else { throw .malformed("not valid JSON: nested deeper than \(JSONParser.maximumDepth) levels") }
        scanner.index += 1
        var items = ListItems()
        defer { items.release() }  // a no-op once the list holds them
        scanner.skipWhitespace()
        if scanner.current == UInt8(ascii: "]") {
            scanner.index += 1
        } else {
            while true {
                if try plainNumbers(&scanner, element, into: &items) { break }
                scanner.skipWhitespace()
                do {
                    try items.append(try value(&scanner, element, depth: depth, gil))
                } catch .mismatch(var mismatch) {
                    mismatch.path.append("element \(items.count)")
                    throw .mismatch(mismatch)
                }
                scanner.skipWhitespace()
                switch scanner.current {
                case UInt8(ascii: ","): scanner.index += 1
                case UInt8(ascii: "]"): scanner.index += 1
                default: throw .malformed("not valid JSON: \(scanner.error("expected ',' or ']' in list"))")
                }
                if scanner.bytes[scanner.index - 1] == UInt8(ascii: "]") { break }
            }
        }
        return try items.makeList()
    }
}
