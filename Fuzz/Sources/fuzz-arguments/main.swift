import CPython
import FuzzPython
import FuzzSupport
@testable import PyRPCPython
@testable import PyRPCWire

/// Reading a request's arguments straight into Python objects (`JSONToPython`, the server's
/// path, with its fast paths for plain numbers, strings and lists) against the general path
/// (parse the JSON tree, coerce each value like `ValueCoercion`, convert with `ValueToPython`).
/// Both must decide every input the same way — malformed, wrong count, value mismatch — and
/// accepted arguments must be equal Python objects (compared by `repr`, so -0.0 and NaN count).
/// The first input byte picks the declared types; the rest is the `arguments` text.

enum Verdict: Equatable {
    case accepted(String)  // repr of the argument list
    case malformed
    case count
    case mismatch
}

func reprOf(_ objects: [UnsafeMutablePointer<PyObject>?], _ gil: borrowing GIL) -> String {
    guard let list = PyList_New(objects.count) else { fatalError("PyList_New") }
    for (index, object) in objects.enumerated() {
        Py_IncRef(object)
        PyList_SET_ITEM(list, index, object)
    }
    defer { Py_DecRef(list) }
    guard let repr = PyObject_Repr(list) else { fatalError("repr raised") }
    defer { Py_DecRef(repr) }
    return PythonText.string(repr) ?? "<unprintable>"
}

func serverPath(_ text: [UInt8], _ types: [RPCType], _ gil: borrowing GIL) -> Verdict {
    do {
        let objects = try JSONToPython.arguments(ArgumentBytes(text), types: types, gil)
        defer { for object in objects { Py_DecRef(object) } }
        return .accepted(reprOf(objects, gil))
    } catch {
        switch error {
        case .malformed: return .malformed
        case .count: return .count
        case .mismatch: return .mismatch
        }
    }
}

func generalPath(_ text: [UInt8], _ types: [RPCType], _ gil: borrowing GIL) -> Verdict {
    guard let parsed = try? JSONParser.parse(text), case .array(let values) = parsed else { return .malformed }
    var objects: [UnsafeMutablePointer<PyObject>?] = []
    defer { for object in objects { Py_DecRef(object) } }
    for (value, type) in zip(values, types) {
        guard let canonical = try? ValueCoercion.coerce(value, to: type) else { return .mismatch }
        guard let object = ValueToPython.convert(canonical, as: type, gil) else {
            PyErr_Clear()
            return .malformed
        }
        objects.append(object.release())
    }
    guard values.count == types.count else { return .count }
    return .accepted(reprOf(objects, gil))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArguments(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    var input = FuzzInput(bytes)
    let types = fuzzTypeLists[Int(input.byte()) % fuzzTypeLists.count]
    let text = Array(input.rest)
    _ = PythonRuntime.shared
    GIL.withGIL { gil in
        let server = serverPath(text, types, gil)
        let reference = generalPath(text, types, gil)
        guard server == reference else {
            mismatch("types \(types): JSONToPython says \(server), the general path \(reference)", input: bytes)
        }
        LeakCheck.run(input: bytes) { _ = serverPath(text, types, gil) }
    }
    return 0
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_arguments_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzArguments)
}
