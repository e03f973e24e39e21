import CPython
import FuzzPython
import FuzzSupport
@testable import PyRPCPython
@testable import PyRPCWire

/// Writing results from Python objects (`PythonToJSON`, the server's only path): whatever
/// value a script returns, for whatever declared type, the answer is valid JSON that a client
/// reads as that type; and a value made only of plain int/float/str/bool/list objects that is
/// accepted reads back (through the server's argument path) as an equal object. The same in
/// MessagePack: accepted and refused alike, with the same message; the same value as the
/// JSON answer (NaN and infinities native instead of strings); plain values read back
/// (through `MessagePackToPython`) as an equal object.

nonisolated(unsafe) var builder: ValueBuilder?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResults(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    _ = PythonRuntime.shared
    GIL.withGIL { gil in
        if builder == nil { builder = ValueBuilder() }
        var input = FuzzInput(bytes)
        let type = fuzzTypeLists.filter { $0.count == 1 }.map { $0[0] }[Int(input.byte()) % 11]
        let valuesStart = input
        var values = builder!
        guard let object = values.build(&input) else { return }
        defer { Py_DecRef(object) }
        check(object, type, plain: values.isPlain, input: bytes, gil)
        // Two fresh objects from the same bytes: one is an iterator that writing used up.
        var again = builder!
        var forJSON = valuesStart, forMessagePack = valuesStart
        if let json = again.build(&forJSON), let messagePack = again.build(&forMessagePack) {
            checkMessagePack(json: json, messagePack: messagePack, type, plain: values.isPlain, input: bytes, gil)
            Py_DecRef(json)
            Py_DecRef(messagePack)
        }
        PyErr_Clear()
        LeakCheck.run(input: bytes) {
            var writer = JSONWriter(capacity: 64)
            _ = try? PythonToJSON.write(object, as: type, into: &writer, gil)
            PyErr_Clear()
            var packed = MessagePackWriter(capacity: 64)
            _ = try? PythonToJSON.write(object, as: type, into: &packed, gil)
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
    guard let back = try? JSONToPython.arguments(ArgumentBytes(Array("[".utf8) + text + Array("]".utf8)), types: [type], gil), let first = back.first else {
        PyErr_Clear()
        mismatch("the answer \(String(decoding: text, as: UTF8.self)) does not read back as \(type)", input: input)
    }
    defer { for object in back { Py_DecRef(object) } }
    guard builder!.same(object, first!) else {
        mismatch("\(repr(object)) written as \(String(decoding: text, as: UTF8.self)) reads back as \(repr(first!))", input: input)
    }
    PyErr_Clear()
}

/// The MessagePack answer against the JSON one for two objects built alike.
func checkMessagePack(
    json: UnsafeMutablePointer<PyObject>, messagePack object: UnsafeMutablePointer<PyObject>, _ type: RPCType, plain: Bool,
    input: UnsafeRawBufferPointer, _ gil: borrowing GIL
) {
    var text = JSONWriter(capacity: 64)
    let jsonVerdict = Result { () throws(ValueMismatch) in try PythonToJSON.write(json, as: type, into: &text, gil) }
    PyErr_Clear()
    var packed = MessagePackWriter(capacity: 64)
    let packedVerdict = Result { () throws(ValueMismatch) in try PythonToJSON.write(object, as: type, into: &packed, gil) }
    guard PyErr_Occurred() == nil else { mismatch("the MessagePack answer left a Python error set", input: input) }
    switch (jsonVerdict, packedVerdict) {
    case (.failure(let json), .failure(let messagePack)):
        guard withoutAddresses(json.description) == withoutAddresses(messagePack.description) else {
            mismatch("refused as \(json) in JSON and \(messagePack) in MessagePack", input: input)
        }
        return
    case (.success, .success):
        break
    default:
        mismatch("JSON says \(jsonVerdict), MessagePack \(packedVerdict)", input: input)
    }
    guard let decoded = try? MessagePackReader.decode(packed.bytes), let fromPacked = try? ValueCoercion.coerce(decoded, to: type) else {
        mismatch("the MessagePack answer \(packed.bytes) does not read as \(type)", input: input)
    }
    guard let parsed = try? JSONParser.parse(text.bytes), let fromText = try? ValueCoercion.coerce(parsed, to: type), same(fromPacked, fromText) else {
        mismatch("MessagePack answers \(decoded), JSON \(String(decoding: text.bytes, as: UTF8.self))", input: input)
    }
    guard plain else { return }
    var list = MessagePackWriter(capacity: packed.bytes.count + 1)
    list.arrayHeader(count: 1)
    list.bytes += packed.bytes
    guard let back = try? MessagePackToPython.arguments(ArgumentBytes(list.bytes), types: [type], gil), let first = back.first else {
        PyErr_Clear()
        mismatch("the MessagePack answer \(decoded) does not read back as \(type)", input: input)
    }
    defer { for object in back { Py_DecRef(object) } }
    guard builder!.same(object, first!) else {
        mismatch("\(repr(object)) written as MessagePack \(decoded) reads back as \(repr(first!))", input: input)
    }
    PyErr_Clear()
}

/// A message without the hex addresses that reprs of two objects built alike differ in.
func withoutAddresses(_ message: String) -> String {
    var kept = ""
    var rest = Substring(message)
    while let marker = rest.range(of: "0x") {
        kept += rest[..<marker.upperBound]
        rest = rest[marker.upperBound...].drop(while: \.isHexDigit)
    }
    return kept + rest
}

/// `repr(object)` for a finding's message.
func repr(_ object: UnsafeMutablePointer<PyObject>) -> String {
    PyObject_Repr(object).flatMap { PythonText.string($0) } ?? "?"
}

/// Equal values, NaN equal to NaN (coerced answers: JSON's "nan" strings are floats by now).
private func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.float(let x), .float(let y)): return x == y || (x.isNaN && y.isNaN)
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    default: return a == b
    }
}

/// SwiftPM links an executable's main as `<module>_main`: hand over to libFuzzer.
@_cdecl("fuzz_results_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzResults)
}
