import XCTest
@testable import PyRPCPython
import PyRPCWire

final class ExceptionTests: XCTestCase {
    func testZeroDivisionError() async throws {
        let source = "def helper():\n    return 1 / 0\n\ndef f():\n    return helper()\n"
        let outcome = try await callOnce(source, returns: [.float], path: "/scripts/div.py")
        guard case .raised(let summary, let traceback) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(summary, "ZeroDivisionError: division by zero")
        XCTAssertTrue(traceback.hasPrefix("Traceback (most recent call last):"), traceback)
        XCTAssertTrue(traceback.contains(#"File "/scripts/div.py", line 5, in f"#), traceback)
        XCTAssertTrue(traceback.contains(#"File "/scripts/div.py", line 2, in helper"#), traceback)
        XCTAssertTrue(traceback.hasSuffix("ZeroDivisionError: division by zero\n"), traceback)
    }

    func testSystemExitIsJustAnException() async throws {
        let three = try await callOnce("import sys\ndef f():\n    sys.exit(3)\n", returns: [.int])
        guard case .raised(let summary, _) = three else { return XCTFail("\(three)") }
        XCTAssertEqual(summary, "SystemExit: 3")
        let bare = try await callOnce("import sys\ndef f():\n    sys.exit()\n", returns: [])
        guard case .raised(let bareSummary, _) = bare else { return XCTFail("\(bare)") }
        XCTAssertEqual(bareSummary, "SystemExit")
        let text = try await callOnce("def f():\n    raise SystemExit('bye')\n", returns: [])
        guard case .raised(let textSummary, _) = text else { return XCTFail("\(text)") }
        XCTAssertEqual(textSummary, "SystemExit: bye")
        // Still alive, and Python still works.
        let after = try await callOnce("def f():\n    return 41 + 1\n", returns: [.int])
        XCTAssertEqual(after, .returned([42]))
    }

    func testKeyboardInterruptIsCaught() async throws {
        let outcome = try await callOnce("def f():\n    raise KeyboardInterrupt\n", returns: [])
        guard case .raised(let summary, _) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(summary, "KeyboardInterrupt")
    }

    func testOtherExceptions() async throws {
        let custom = try await callOnce("class MyError(Exception):\n    pass\n\ndef f():\n    raise MyError('boom')\n", returns: [])
        guard case .raised(let customSummary, _) = custom else { return XCTFail("\(custom)") }
        XCTAssertEqual(customSummary, "MyError: boom")
        let empty = try await callOnce("def f():\n    raise ValueError()\n", returns: [])
        guard case .raised(let emptySummary, _) = empty else { return XCTFail("\(empty)") }
        XCTAssertEqual(emptySummary, "ValueError")
        let key = try await callOnce("def f():\n    return {}['k']\n", returns: [.int])
        guard case .raised(let keySummary, _) = key else { return XCTFail("\(key)") }
        XCTAssertEqual(keySummary, "KeyError: 'k'")
        let unicode = try await callOnce("def f():\n    raise RuntimeError('straße 😀')\n", returns: [])
        guard case .raised(let unicodeSummary, _) = unicode else { return XCTFail("\(unicode)") }
        XCTAssertEqual(unicodeSummary, "RuntimeError: straße 😀")
        let wrongArity = try await callOnce("def f(a):\n    return a\n", [1, 2], types: [.int, .int], returns: [.int])
        guard case .raised(let aritySummary, _) = wrongArity else { return XCTFail("\(wrongArity)") }
        XCTAssertEqual(aritySummary, "TypeError: f() takes 1 positional argument but 2 were given")
    }

    func testRecursionErrorDoesNotCrash() async throws {
        let outcome = try await callOnce("def f(n):\n    return f(n + 1)\n", [0], types: [.int], returns: [.int])
        guard case .raised(let summary, _) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(summary.hasPrefix("RecursionError: maximum recursion depth exceeded"), summary)
    }

    func testPrintDoesNotBreakAnything() async throws {
        let source = """
            import sys
            def f(x):
                print("hello", x)
                print("no newline", end="")
                print("😀 straße")
                sys.stdout.flush()
                sys.stderr.write("to stderr\\n")
                sys.stdout.write(12 * "long line " + "\\n")
                return x + 1
            """
        let outcome = try await callOnce(source, [1], types: [.int], returns: [.int])
        XCTAssertEqual(outcome, .returned([2]))
        let again = try await callOnce(source, [2], types: [.int], returns: [.int])
        XCTAssertEqual(again, .returned([3]))
    }

    func testStandardLibraryAndIsolation() async throws {
        let source = """
            import sys, json, math, dataclasses, collections
            def f():
                return [sys.version.split()[0], str(math.sqrt(16.0)), json.dumps([1]), str(sys.flags.isolated), repr(sys.stdin.read())]
            """
        let outcome = try await callOnce(source, returns: [.list(.str)])
        guard case .array(let items)? = single(outcome), items.count == 5, case .string(let version) = items[0] else {
            return XCTFail("\(outcome)")
        }
        XCTAssertTrue(version.hasPrefix("3.11"), version)
        XCTAssertEqual(Array(items.dropFirst()), ["4.0", "[1]", "1", "''"])
        XCTAssertTrue(PythonRuntime.shared.version.hasPrefix("3.11"), PythonRuntime.shared.version)
    }
}

final class LoadErrorTests: XCTestCase {
    func testSyntaxErrorReportsLine() async {
        let error = await loadError("x = 1\ny = 2\ndef f() return 3\n")
        XCTAssertEqual(error?.path, "/scripts/bad.py")
        XCTAssertEqual(error?.line, 3)
        XCTAssertNotNil(error?.column)
        XCTAssertEqual(error?.message, "SyntaxError: expected ':'")
        XCTAssertEqual(error?.description.hasPrefix("/scripts/bad.py:3:"), true, error?.description ?? "")
        XCTAssertEqual(error?.description.hasSuffix(": SyntaxError: expected ':'"), true, error?.description ?? "")

        let first = await loadError("def f(:\n    return 1\n")
        XCTAssertEqual(first?.line, 1)
        XCTAssertEqual(first?.message, "SyntaxError: invalid syntax")
    }

    func testIndentationErrorReportsLine() async {
        let error = await loadError("def f():\nreturn 1\n")
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(error?.message.hasPrefix("IndentationError: expected an indented block"), true, error?.message ?? "")
    }

    func testMissingFunctionIsNamed() async {
        let error = await loadError("def g():\n    return 1\n", function: "add")
        XCTAssertEqual(
            error,
            ScriptLoadError(
                path: "/scripts/bad.py", line: nil, column: nil,
                message: "the script defines no function 'add' (set `function:` in init.yaml if it has another name)"))
        XCTAssertEqual(
            error?.description,
            "/scripts/bad.py: the script defines no function 'add' (set `function:` in init.yaml if it has another name)")
    }

    func testNonCallableIsReported() async {
        let error = await loadError("f = 5\n")
        XCTAssertEqual(error?.message, "'f' is a int, not a function")
    }

    func testModuleLevelExceptionIsReported() async {
        let error = await loadError("x = 1\nraise RuntimeError('bad config')\n")
        XCTAssertEqual(error, ScriptLoadError(path: "/scripts/bad.py", line: 2, column: nil, message: "running the script raised RuntimeError: bad config"))
        XCTAssertEqual(error?.description, "/scripts/bad.py:2: running the script raised RuntimeError: bad config")

        let nested = await loadError("def g():\n    return 1 / 0\n\ng()\n")
        XCTAssertEqual(nested?.line, 2, "the deepest frame in the script")
        XCTAssertEqual(nested?.message, "running the script raised ZeroDivisionError: division by zero")

        let exit = await loadError("import sys\nsys.exit(2)\n")
        XCTAssertEqual(exit?.message, "running the script raised SystemExit: 2")
        XCTAssertEqual(exit?.line, 2)

        let missingImport = await loadError("import surely_not_a_module_xyz\n")
        let importMessage = missingImport?.message ?? ""
        XCTAssertTrue(importMessage.hasPrefix("running the script raised ModuleNotFoundError: No module named 'surely_not_a_module_xyz'; sys.path is [\"/usr/lib/python3"), importMessage)
        XCTAssertTrue(importMessage.contains("python: {venv: ./.venv}"), "says how to point the server at a venv: \(importMessage)")
        XCTAssertEqual(missingImport?.line, 1)
    }

    func testNulByteIsRejected() async {
        let error = await loadError("def f():\n    return '\u{0}'\n")
        XCTAssertEqual(error?.message, "the script contains a NUL byte")
    }

    func testFailedLoadLeavesNoModuleBehind() async throws {
        let checker = try await load("import sys\ndef has(name):\n    return name in sys.modules\n")
        let name = uniqueModule("failed")
        let result: Result<LoadedScript, ScriptLoadError> = await sharedPool.perform { gil in
            do throws(ScriptLoadError) {
                return .success(try LoadedScript.load(source: "raise ValueError('x')\n", path: "/scripts/v.py", moduleName: name, gil))
            } catch {
                return .failure(error)
            }
        }
        XCTAssertThrowsError(try result.get())
        let present = try await checker.call("has", [.string(name)], types: [.str], returns: [.bool])
        XCTAssertEqual(present, .returned([false]))
        await checker.unload()
    }
}

final class ModuleLifecycleTests: XCTestCase {
    func testModuleStatePersistsBetweenCalls() async throws {
        let script = try await load("count = 0\ndef bump():\n    global count\n    count += 1\n    return count\n")
        for expected in 1...5 {
            let outcome = try await script.call("bump", returns: [.int])
            XCTAssertEqual(outcome, .returned([.int(expected)]))
        }
        await script.unload()
    }

    func testFunctionHandleCanBeCalledRepeatedly() async throws {
        let script = try await load("calls = []\ndef add(a, b):\n    calls.append(a)\n    return a + b + len(calls)\n")
        let function: PythonFunction = await sharedPool.perform { gil in try? script.function(named: "add", gil) }!
        for index in 1...3 {
            let outcome = await sharedPool.perform { gil in function.call([10, 20], types: [.int, .int], returns: [.int], gil) }
            XCTAssertEqual(outcome, .returned([.int(30 + index)]))
        }
        await sharedPool.perform { gil in function.dispose(gil) }
        let afterDispose = await sharedPool.perform { gil in function.call([1, 2], types: [.int, .int], returns: [.int], gil) }
        guard case .raised(let summary, _) = afterDispose else { return XCTFail("\(afterDispose)") }
        XCTAssertEqual(summary, "RuntimeError: function was unloaded")
        await script.unload()
    }

    func testTwoVersionsOfOneFileCoexist() async throws {
        let path = "/scripts/versioned.py"
        let v1 = try await load("count = 0\ndef f():\n    global count\n    count += 1\n    return 'v1:' + str(count) + ':' + __name__ + ':' + __file__\n", path: path)
        let v2 = try await load("count = 100\ndef f():\n    global count\n    count += 1\n    return 'v2:' + str(count) + ':' + __name__ + ':' + __file__\n", path: path)
        XCTAssertNotEqual(v1.moduleName, v2.moduleName)
        let a = try await v1.call("f", returns: [.str])
        let b = try await v2.call("f", returns: [.str])
        let c = try await v1.call("f", returns: [.str])
        let d = try await v2.call("f", returns: [.str])
        XCTAssertEqual(a, .returned([.string("v1:1:\(v1.moduleName):\(path)")]))
        XCTAssertEqual(b, .returned([.string("v2:101:\(v2.moduleName):\(path)")]))
        XCTAssertEqual(c, .returned([.string("v1:2:\(v1.moduleName):\(path)")]))
        XCTAssertEqual(d, .returned([.string("v2:102:\(v2.moduleName):\(path)")]))
        // Retiring v1 leaves v2 working.
        await v1.unload()
        let e = try await v2.call("f", returns: [.str])
        XCTAssertEqual(e, .returned([.string("v2:103:\(v2.moduleName):\(path)")]))
        await v2.unload()
    }

    func testModuleIsInSysModulesOnlyWhileLoaded() async throws {
        let checker = try await load("import sys\ndef has(name):\n    return name in sys.modules\n")
        let name = uniqueModule("live")
        let script = try await load("def f():\n    return 1\n", module: name)
        XCTAssertEqual(script.moduleName, name)
        let before = try await checker.call("has", [.string(name)], types: [.str], returns: [.bool])
        XCTAssertEqual(before, .returned([true]))
        await script.unload()
        let after = try await checker.call("has", [.string(name)], types: [.str], returns: [.bool])
        XCTAssertEqual(after, .returned([false]))
        await checker.unload()
    }

    func testDataclassesWithPostponedAnnotationsWork() async throws {
        let source = """
            from __future__ import annotations
            from dataclasses import dataclass
            import pickle

            @dataclass
            class Point:
                x: int
                y: int

            def f(x, y):
                p = pickle.loads(pickle.dumps(Point(x, y)))
                return p.x * 10 + p.y
            """
        let outcome = try await callOnce(source, [3, 4], types: [.int, .int], returns: [.int])
        XCTAssertEqual(outcome, .returned([34]))
    }

    func testLoadedScriptsCanImportEachOtherByModuleName() async throws {
        let name = uniqueModule("lib")
        let library = try await load("VALUE = 'from the library'\n", module: name)
        let outcome = try await callOnce("import importlib\ndef f(n):\n    return importlib.import_module(n).VALUE\n", [.string(name)], types: [.str], returns: [.str])
        XCTAssertEqual(outcome, .returned(["from the library"]))
        await library.unload()
    }
}

/// Unloaded modules must not wait for Python's oldest-generation collection.
final class UnloadTests: XCTestCase {
    func testUnloadedModuleIsFreedDespiteItsCycles() async throws {
        let module = uniqueModule("cyc")
        let script = try await load("class Marker:\n    pass\n\nmarker = Marker()\n\ndef f():\n    return marker\n", module: module)
        let watcher = try await load("""
            import sys, weakref
            ref = None
            def watch(name):
                global ref
                ref = weakref.ref(sys.modules[name].marker)
            def alive():
                return ref is not None and ref() is not None
            """)
        let alive: @Sendable (borrowing GIL) -> Bool = { gil in
            guard let function = try? watcher.function(named: "alive", gil) else { return false }
            defer { function.dispose(gil) }
            return function.call([], types: [], returns: [.bool], gil) == .returned([.bool(true)])
        }
        let watching: Bool = await sharedPool.perform { gil in
            guard let watch = try? watcher.function(named: "watch", gil) else { return false }
            defer { watch.dispose(gil) }
            return watch.call([.string(module)], types: [.str], returns: [], gil) == .returned([])
        }
        XCTAssertTrue(watching)
        let before = await sharedPool.perform { gil in alive(gil) }
        XCTAssertTrue(before, "the marker lives while its module is loaded")
        let after: Bool = await sharedPool.perform { gil in
            script.unload(gil)
            LoadedScript.collectUnloaded(gil)
            return alive(gil)
        }
        XCTAssertFalse(after, "the module's globals should be freed right after unloading")
        await watcher.unload(pool: sharedPool)
    }
}
