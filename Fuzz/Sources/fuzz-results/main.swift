import CPython
import FuzzPython
import FuzzSupport
@testable import PyRPCPython
@testable import PyRPCWire

/// Writing results from Python objects (`PythonToJSON`, the server's only path): whatever
/// value a script returns, for whatever declared type, the answer is valid JSON that a client
/// reads as that type; and a value made only of plain int/float/str/bool/list objects that is
/// accepted reads back (through the server's argument path) as an equal object.

nonisolated(unsafe) var builder: ValueBuilder?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResults(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    _ = PythonRuntime.shared
    GIL.withGIL { gil in
        if builder == nil { builder = ValueBuilder() }
        var input = FuzzInput(bytes)
        let type = fuzzTypeLists.filter { $0.count == 1 }.map { $0[0] }[Int(input.byte()) % 11]
        var values = builder!
        guard let object = values.build(&input) else { return }
        defer { Py_DecRef(object) }
        check(object, type, plain: values.isPlain, input: bytes, gil)
        LeakCheck.run(input: bytes) {
            var writer = JSONWriter(capacity: 64)
            _ = try? PythonToJSON.write(object, as: type, into: &writer, gil)
            PyErr_Clear()
        }
    }
    return 0
}

func check(_ object: UnsafeMutablePointer<PyObject>, _ type: RPCType, plain: Bool, input: UnsafeRawBufferPointer, _ gil: borrowing GIL) {
    var writer = JSONWriter(capacity: 64)
    do {
        try PythonToJSON.write(object, as: type, into: &writer, gil)
    } catch {
        guard PyErr_Occurred() == nil else { mismatch("a refused value left a Python error set: \(error)", input: input) }
        return
    }
    guard PyErr_Occurred() == nil else { mismatch("an accepted value left a Python error set", input: input) }
    let text = writer.bytes
    guard let parsed = try? JSONParser.parse(text) else {
        mismatch("the answer is not valid JSON: \(String(decoding: text, as: UTF8.self))", input: input)
    }
    guard (try? ValueCoercion.coerce(parsed, to: type)) != nil else {
        mismatch("the answer \(String(decoding: text, as: UTF8.self)) does not read as \(type)", input: input)
    }
    guard plain else { return }
    // Read back the way the server reads arguments: the same object (by repr).
    guard let back = try? JSONToPython.arguments(Array("[".utf8) + text + Array("]".utf8), types: [type], gil), let first = back.first else {
        PyErr_Clear()
        mismatch("the answer \(String(decoding: text, as: UTF8.self)) does not read back as \(type)", input: input)
    }
    defer { for object in back { Py_DecRef(object) } }
    guard builder!.same(object, first!) else {
        let left = PyObject_Repr(object).flatMap { PythonText.string($0) } ?? "?"
        let right = PyObject_Repr(first!).flatMap { PythonText.string($0) } ?? "?"
        mismatch("\(left) written as \(String(decoding: text, as: UTF8.self)) reads back as \(right)", input: input)
    }
    PyErr_Clear()
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_results_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzResults)
}
