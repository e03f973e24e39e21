import CPython
import Foundation
import XCTest
@testable import PyRPCPython
import PyRPCWire

/// numpy arrays returned for `List[float]`, `List[List[float]]` and `List[int]`, written from
/// their buffer (`BufferResults`) in both encodings. numpy comes from the venv `.ci/run`
/// makes; without it these tests skip.
///
/// Each case checks which way the value goes (`Writes.fromBuffer`: whether `BufferResults`
/// takes it) and compares the bytes `PythonToJSON` writes with what it writes for the same
/// values as a Python list (`tolist()`), which is what was written before the buffer path.
final class BufferResultTests: XCTestCase {
    func testFloat64ArrayIsWrittenFromItsBufferInBothEncodings() async throws {
        let script = try await numpyScript("""
            special = np.array([1.5, -0.0, 0.0, float('nan'), float('inf'), -float('inf'), 0.1, 1e-7, 2.0 ** 60, 5e-324, -2.5e300])
            def get():
                return special
            """)
        let expected: [Double] = [1.5, -0.0, 0.0, .nan, .infinity, -.infinity, 0.1, 1e-7, 0x1p60, .leastNonzeroMagnitude, -2.5e300]
        let writes = try await written(script, "get", as: .list(.float))
        XCTAssertTrue(writes.fromBuffer)
        assertSameDoubles(try doubles(writes.json.bytes(), messagePack: false), expected)
        assertSameDoubles(try doubles(writes.messagePack.bytes(), messagePack: true), expected)
        XCTAssertTrue(String(decoding: try writes.json.bytes(), as: UTF8.self).hasPrefix("[[1.5,-0.0,0.0,\"nan\",\"inf\",\"-inf\",0.1,1e-07,"))
        await assertSameAsList(writes, script: script, "special", as: .list(.float))
        await script.unload()
    }

    func testArraysOfMoreDimensionsAreNestedLists() async throws {
        let script = try await numpyScript("""
            grid = (np.arange(12, dtype=np.float64).reshape(3, 4) + 0.5) / 3
            cube = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * -1.25
            values = {'grid': grid, 'cube': cube, 'rows': [np.arange(3.0), np.arange(2.0) + 7]}
            def get(name):
                return values[name]
            """)
        let two = try await written(script, "get", [.string("grid")], as: .list(.list(.float)))
        XCTAssertTrue(two.fromBuffer)
        await assertSameAsList(two, script: script, "grid", as: .list(.list(.float)))
        let rows = try XCTUnwrap(try JSONParser.parse(two.json.bytes()).arrayValue?.first?.arrayValue)
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[1], .array([4.5 / 3, 5.5 / 3, 6.5 / 3, 7.5 / 3].map { .float($0) }))
        let three = try await written(script, "get", [.string("cube")], as: .list(.list(.list(.float))))
        XCTAssertTrue(three.fromBuffer)
        await assertSameAsList(three, script: script, "cube", as: .list(.list(.list(.float))))
        // A Python list of arrays: the list goes the general way, each row from its buffer.
        let listOfArrays = try await written(script, "get", [.string("rows")], as: .list(.list(.float)))
        XCTAssertFalse(listOfArrays.fromBuffer)
        XCTAssertEqual(String(decoding: try listOfArrays.json.bytes(), as: UTF8.self), "[[[0.0,1.0,2.0],[7.0,8.0]]]")
        XCTAssertEqual(try MessagePackReader.decode(listOfArrays.messagePack.bytes()), [[[0.0, 1.0, 2.0], [7.0, 8.0]]])
        let row = try await written(script, "get", [.string("grid")], as: .list(.float))
        XCTAssertFalse(row.fromBuffer, "two dimensions for one list")
        await script.unload()
    }

    /// A memoryview of more than one dimension cannot be iterated ("multi-dimensional
    /// sub-views are not implemented"): only the buffer path can write it, so this shows that
    /// `PythonToJSON` goes that way.
    func testResultsGoTheBufferWay() async throws {
        let script = try await numpyScript("""
            grid = np.arange(6, dtype=np.float64).reshape(2, 3) / 4
            def get():
                return memoryview(grid)
            def transposed():
                return memoryview(grid.T)
            """)
        let writes = try await written(script, "get", as: .list(.list(.float)))
        XCTAssertEqual(String(decoding: try writes.json.bytes(), as: UTF8.self), "[[[0.0,0.25,0.5],[0.75,1.0,1.25]]]")
        XCTAssertEqual(try MessagePackReader.decode(writes.messagePack.bytes()), [[[0.0, 0.25, 0.5], [0.75, 1.0, 1.25]]])
        let transposed = try await written(script, "transposed", as: .list(.list(.float)))
        XCTAssertEqual(String(decoding: try transposed.json.bytes(), as: UTF8.self), "[[[0.0,0.75],[0.25,1.0],[0.5,1.25]]]")
        await script.unload()
    }

    func testViewsWithStridesAreReadInPlace() async throws {
        let script = try await numpyScript("""
            line = np.sqrt(np.arange(11, dtype=np.float64) + 0.5)
            grid = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
            views = {
                'every_other': line[::2],
                'backwards': line[::-3],
                'transposed': grid.T,
                'column': grid[:, 1],
                'block': np.arange(30.0).reshape(5, 6)[1:4:2, ::-2],
            }
            def view(name):
                return views[name]
            """)
        let cases: [(String, RPCType, [Double])] = [
            ("every_other", .list(.float), stride(from: 0, through: 10, by: 2).map { (Double($0) + 0.5).squareRoot() }),
            ("backwards", .list(.float), [10, 7, 4, 1].map { (Double($0) + 0.5).squareRoot() }),
            ("transposed", .list(.list(.float)), [0, 3, 1, 4, 2, 5].map { Double($0) / 7 }),
            ("column", .list(.float), [1.0 / 7, 4.0 / 7]),
            ("block", .list(.list(.float)), [11, 9, 7, 23, 21, 19]),
        ]
        for (name, type, expected) in cases {
            let writes = try await written(script, "view", [.string(name)], as: type)
            XCTAssertTrue(writes.fromBuffer, name)
            assertSameDoubles(try doubles(writes.json.bytes(), messagePack: false), expected, name)
            assertSameDoubles(try doubles(writes.messagePack.bytes(), messagePack: true), expected, name)
            await assertSameAsList(writes, script: script, "views['\(name)']", as: type)
        }
        let transposed = try await written(script, "view", [.string("transposed")], as: .list(.list(.float)))
        let rows = try XCTUnwrap(try MessagePackReader.decode(transposed.messagePack.bytes()).arrayValue?.first?.arrayValue)
        XCTAssertEqual(rows.map { $0.arrayValue?.count }, [2, 2, 2], "3 rows of 2")
        await script.unload()
    }

    func testFloat32AndIntegerArrays() async throws {
        let script = try await numpyScript("""
            arrays = {
                'float32': np.array([0.1, -3.5, 1e30, float('nan'), -0.0], dtype=np.float32),
                'int64': np.array([0, -1, 2 ** 62, -2 ** 63], dtype=np.int64),
                'int32': np.array([7, -2 ** 31], dtype=np.int32),
                'int16': np.array([-2 ** 15, 300], dtype=np.int16),
                'int8': np.array([-128, 127], dtype=np.int8),
                'uint8': np.array([0, 255], dtype=np.uint8),
                'uint16': np.array([65535], dtype=np.uint16),
                'uint32': np.array([2 ** 32 - 1], dtype=np.uint32),
                'uint64': np.array([2 ** 64 - 1, 2 ** 63, 5], dtype=np.uint64),
                'int_grid': np.arange(6, dtype=np.int64).reshape(2, 3)[:, ::-1],
            }
            def get(name):
                return arrays[name]
            """)
        let cases: [(String, RPCType)] = [
            ("float32", .list(.float)), ("int64", .list(.int)), ("int32", .list(.int)), ("int16", .list(.int)), ("int8", .list(.int)),
            ("uint8", .list(.int)), ("uint16", .list(.int)), ("uint32", .list(.int)), ("uint64", .list(.int)), ("int_grid", .list(.list(.int))),
            // ints where floats are declared, converted as float(numpy.int64) converts them
            ("int64", .list(.float)), ("uint64", .list(.float)), ("int_grid", .list(.list(.float))),
        ]
        for (name, type) in cases {
            let writes = try await written(script, "get", [.string(name)], as: type)
            XCTAssertTrue(writes.fromBuffer, "\(name) as \(type)")
            await assertSameAsList(writes, script: script, "arrays['\(name)']", as: type)
        }
        let float32 = try await written(script, "get", [.string("float32")], as: .list(.float))
        assertSameDoubles(try doubles(float32.messagePack.bytes(), messagePack: true), [Double(Float(0.1)), -3.5, Double(Float(1e30)), .nan, -0.0])
        let unsigned = try await written(script, "get", [.string("uint64")], as: .list(.int))
        XCTAssertEqual(String(decoding: try unsigned.json.bytes(), as: UTF8.self), "[[18446744073709551615,9223372036854775808,5]]")
        XCTAssertEqual(try MessagePackReader.decode(unsigned.messagePack.bytes()), [.array([.bigInt("18446744073709551615"), .bigInt("9223372036854775808"), 5])])
        await script.unload()
    }

    func testEmptyArrays() async throws {
        let script = try await numpyScript("""
            def get(rows, columns):
                return np.zeros((columns,) if rows < 0 else (rows, columns))
            """)
        let cases: [(Int, Int, RPCType, String, JSONValue)] = [
            (-1, 0, .list(.float), "[]", []),
            (3, 0, .list(.list(.float)), "[[],[],[]]", [[], [], []]),
            (0, 3, .list(.list(.float)), "[]", []),
        ]
        for (rows, columns, type, text, value) in cases {
            let writes = try await written(script, "get", [.int(rows), .int(columns)], as: type)
            XCTAssertTrue(writes.fromBuffer, "\(rows)×\(columns)")
            XCTAssertEqual(String(decoding: try writes.json.bytes(), as: UTF8.self), "[\(text)]")
            XCTAssertEqual(try MessagePackReader.decode(writes.messagePack.bytes()), [value])
        }
        await script.unload()
    }

    /// What the buffer path does not take goes the general way, with the same outcome (and
    /// message) as before: what a list of the array's own items gives.
    func testWhatTheBufferPathDoesNotTakeIsWrittenAsBefore() async throws {
        let script = try await numpyScript("""
            arrays = {
                'grid': np.arange(6, dtype=np.float64).reshape(3, 2),
                'line': np.arange(3, dtype=np.float64),
                'floats': np.array([1.5, 2.0]),
                'bools': np.array([True, False]),
                'big_endian': np.array([1.5, -0.25], dtype='>f8'),
                'half': np.array([0.5, 1.0], dtype=np.float16),
                'long_double': np.array([0.5, 1.0], dtype=np.longdouble),
                'objects': np.array([1.5, 'a'], dtype=object),
                'complex': np.array([1 + 2j]),
                'masked': np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False]),
                'matrix': np.matrix([[1.0, 2.0], [3.0, 4.0]]),
                'scalar': np.float64(2.5),
            }
            def get(name):
                return arrays[name]
            def listed(name):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')  # a masked element read as a float
                    return list(arrays[name])
            """)
        let cases: [(String, RPCType, accepted: Bool)] = [
            ("grid", .list(.float), false),  // two dimensions where one is declared
            ("line", .list(.list(.float)), false),
            ("floats", .list(.int), false),
            ("bools", .list(.int), false),  // a bool is not an int in pyrpc
            ("bools", .list(.float), true),  // but numpy.bool_ has __float__
            ("big_endian", .list(.float), true),
            ("half", .list(.float), true),
            ("long_double", .list(.float), true),
            ("objects", .list(.float), false),
            ("complex", .list(.float), false),
            ("masked", .list(.float), true),  // the masked element is nan, whatever its memory holds
            ("matrix", .list(.list(.float)), false),  // iterates as 1×2 matrices
            ("scalar", .list(.float), false),
        ]
        for (name, type, accepted) in cases {
            let array = try await written(script, "get", [.string(name)], as: type)
            XCTAssertFalse(array.fromBuffer, "\(name) as \(type)")
            let general = try await written(script, "listed", [.string(name)], as: type)
            if name != "scalar" {
                XCTAssertEqual(array.json, general.json, "\(name) as \(type)")
                XCTAssertEqual(array.messagePack, general.messagePack, "\(name) as \(type)")
            }
            if case .bytes = array.json { XCTAssertTrue(accepted, "\(name) as \(type) was accepted") } else { XCTAssertFalse(accepted, "\(name) as \(type): \(array.json)") }
        }
        let grid = try await written(script, "get", [.string("grid")], as: .list(.float))
        XCTAssertEqual(grid.json, .mismatch("element 0 of the return value is ndarray array([0., 1.]), expected float"))
        let scalar = try await written(script, "get", [.string("scalar")], as: .list(.float))
        guard case .mismatch(let message) = scalar.json else { return XCTFail("a numpy scalar was taken as a list: \(scalar.json)") }
        XCTAssertTrue(message.hasPrefix("the return value is ") && message.contains("2.5") && message.hasSuffix(", expected List[float]"), message)
        await script.unload()
    }

    func testTheBufferIsReleased() async throws {
        let script = try await numpyScript("""
            import sys
            kept = np.arange(8, dtype=np.float64)
            def get():
                return kept
            def references():
                return sys.getrefcount(kept)
            def grow():
                kept.resize((16,))  # refuses while anything else references the array
                return len(kept)
            """)
        let before = try await script.call("references", returns: [.int])
        for _ in 0..<3 {
            let writes = try await written(script, "get", as: .list(.float))
            XCTAssertTrue(writes.fromBuffer)
            XCTAssertEqual(String(decoding: try writes.json.bytes(), as: UTF8.self), "[[0.0,1.0,2.0,3.0,4.0,5.0,6.0,7.0]]")
        }
        let after = try await script.call("references", returns: [.int])
        XCTAssertEqual(before, after)
        let grown = try await script.call("grow", returns: [.int])
        XCTAssertEqual(single(grown), .int(16))
        await script.unload()
    }

    // MARK: Helpers

    struct NotWritten: Error {}

    /// What was written for one return value: its `return-values` list, or the mismatch.
    enum Written: Equatable, Sendable {
        case bytes([UInt8])
        case mismatch(String)
        case failed(String)

        func bytes(file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
            guard case .bytes(let bytes) = self else {
                XCTFail("expected a written value, got \(self)", file: file, line: line)
                throw NotWritten()
            }
            return bytes
        }
    }

    struct Writes: Sendable {
        var json: Written
        var messagePack: Written
        /// Whether `BufferResults` takes the value (checked on its own, into a scratch writer).
        var fromBuffer = false
    }

    /// Calls `function` and writes what it returns as `type` (as the server writes a single
    /// return value, inside the `return-values` list) in JSON and in MessagePack.
    private func written(_ script: LoadedScript, _ function: String, _ arguments: [JSONValue] = [], as type: RPCType) async throws -> Writes {
        await sharedPool.perform { gil in
            guard let callable = try? script.function(named: function, gil) else { return Writes(json: .failed("no \(function)"), messagePack: .failed("")) }
            defer { callable.dispose(gil) }
            var pointers: [UnsafeMutablePointer<PyObject>?] = []
            defer { for pointer in pointers { Py_DecRef(pointer) } }
            for argument in arguments {
                guard let object = ValueToPython.convert(argument, as: argument.stringValue != nil ? .str : .int, gil) else {
                    return Writes(json: .failed("argument \(argument)"), messagePack: .failed(""))
                }
                pointers.append(object.release())
            }
            guard let result = PyRef.owning(callable.invokeRaw(pointers, gil)) else {
                let summary = PythonException.fetch(gil).summary
                return Writes(json: .failed(summary), messagePack: .failed(summary))
            }
            var writes = Self.writeBoth(result.pointer, as: type, gil)
            var scratch = JSONWriter()
            writes.fromBuffer = BufferResults.write(result.pointer, as: type, into: &scratch, gil)
            return writes
        }
    }

    /// Checks that `writes` are what the general path writes for the script's
    /// `expression.tolist()`: a Python list of Python numbers, which no buffer is read for.
    private func assertSameAsList(_ writes: Writes, script: LoadedScript, _ expression: String, as type: RPCType,
                                  file: StaticString = #filePath, line: UInt = #line) async {
        let code = "import sys\nvalue = sys.modules['\(script.moduleName)'].\(expression).tolist()"
        let general = await sharedPool.perform { gil -> Writes in
            guard let globals = PyRef.owning(PyDict_New()) else { return Writes(json: .failed("dict"), messagePack: .failed("")) }
            PyDict_SetItemString(globals.pointer, "__builtins__", PyEval_GetBuiltins())
            guard PyRef.owning(PyRun_StringFlags(code, pyrpc_file_input(), globals.pointer, globals.pointer, nil)) != nil,
                  let value = PyDict_GetItemString(globals.pointer, "value")  // borrowed from `globals`
            else {
                let summary = PythonException.fetch(gil).summary
                return Writes(json: .failed(summary), messagePack: .failed(summary))
            }
            return Self.writeBoth(value, as: type, gil)
        }
        XCTAssertEqual(writes.json, general.json, "\(expression) as \(type) in JSON", file: file, line: line)
        XCTAssertEqual(writes.messagePack, general.messagePack, "\(expression) as \(type) in MessagePack", file: file, line: line)
    }

    /// `object` written as `type` by `PythonToJSON`, in a one-element list, in both encodings.
    private static func writeBoth(_ object: UnsafeMutablePointer<PyObject>, as type: RPCType, _ gil: borrowing GIL) -> Writes {
        func write<Writer: ValueWriter>(_ writer: inout Writer, _ gil: borrowing GIL) -> Written? {
            writer.beginList(count: 1)
            do throws(ValueMismatch) {
                try PythonToJSON.write(object, as: type, into: &writer, gil)
            } catch var mismatch {
                mismatch.path.append("the return value")
                return .mismatch(mismatch.description)
            }
            writer.endList()
            return nil
        }
        var json = JSONWriter()
        var messagePack = MessagePackWriter()
        return Writes(json: write(&json, gil) ?? .bytes(json.bytes), messagePack: write(&messagePack, gil) ?? .bytes(messagePack.bytes))
    }

    /// Loads `body` after a prelude that imports numpy from the venv (skipping without it).
    private func numpyScript(_ body: String) async throws -> LoadedScript {
        let site = try Self.numpySitePackages()
        // Appended, not prepended: other tests read the start of sys.path in their messages.
        let prelude = """
            import sys
            if \(site.debugDescription) not in sys.path:
                sys.path.append(\(site.debugDescription))
            import numpy as np

            """
        return try await load(prelude + body + "\n")
    }

    /// site-packages of the numpy venv: `PYRPC_NUMPY_VENV`, else ~/.cache/pyrpc/numpy-venv-3.11.
    private static func numpySitePackages() throws -> String {
        let venv = ProcessInfo.processInfo.environment["PYRPC_NUMPY_VENV"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSString(string: "~/.cache/pyrpc/numpy-venv-3.11").expandingTildeInPath
        let site = venv + "/lib/python3.11/site-packages"
        guard FileManager.default.fileExists(atPath: site + "/numpy/__init__.py") else {
            let reason = "no numpy at \(site) (set PYRPC_NUMPY_VENV to a Python 3.11 venv with numpy; .ci/run makes one)"
            print("BufferResultTests skipped: \(reason)")
            throw XCTSkip(reason)
        }
        return site
    }

    /// The doubles of the single return value (nested lists flattened); JSON's "nan", "inf"
    /// and "-inf" read as the floats they stand for.
    private func doubles(_ bytes: [UInt8], messagePack: Bool) throws -> [Double] {
        let value = messagePack ? try MessagePackReader.decode(bytes) : try JSONParser.parse(bytes)
        var result: [Double] = []
        func collect(_ value: JSONValue) {
            switch value {
            case .array(let items): items.forEach(collect)
            case .float(let number): result.append(number)
            case .string("nan"): result.append(.nan)
            case .string("inf"): result.append(.infinity)
            case .string("-inf"): result.append(-.infinity)
            default: XCTFail("not a float: \(value)")
            }
        }
        guard case .array(let items) = value, items.count == 1 else {
            XCTFail("not a return-values list of one: \(value)")
            return []
        }
        collect(items[0])
        return result
    }

    /// Equal bit for bit (so -0.0 is not 0.0), any NaN matching any NaN.
    private func assertSameDoubles(_ actual: [Double], _ expected: [Double], _ label: String = "", file: StaticString = #filePath, line: UInt = #line) {
        let same = actual.count == expected.count && zip(actual, expected).allSatisfy { $0.isNaN ? $1.isNaN : $0.bitPattern == $1.bitPattern }
        XCTAssertTrue(same, "\(label): \(actual) is not \(expected)", file: file, line: line)
    }
}
