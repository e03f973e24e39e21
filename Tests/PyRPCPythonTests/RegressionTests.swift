import XCTest
@testable import PyRPCPython
import PyRPCWire

/// Regression tests for bugs found while writing the unit tests (all fixed): ints beyond
/// Python's 4300-digit text limit, int subclasses with their own `__str__`, a SyntaxError
/// raised at run time, and coding cookies in UTF-8 source.
final class RegressionTests: XCTestCase {
    /// SPEC §3: `int` is arbitrary precision end to end. Python 3.11 limits int<->str
    /// conversion to 4300 digits unless `int_max_str_digits` is 0.
    func testReturnedIntBeyond4300Digits() async throws {
        let outcome = try await callOnce("def f():\n    return 10 ** 5000\n", returns: [.int])
        XCTAssertEqual(outcome, .returned([.bigInt("1" + String(repeating: "0", count: 5000))]))
    }

    func testIntArgumentBeyond4300Digits() async throws {
        let digits = "1" + String(repeating: "0", count: 5000)
        let outcome = try await callOnce("def f(x):\n    return len(str(x))\n", [.bigInt(digits)], types: [.int], returns: [.int])
        XCTAssertEqual(outcome, .returned([5001]))
    }

    /// The decimal text of a big int must not go through a subclass's `__str__`.
    func testBigIntSubclassWithCustomStr() async throws {
        let source = """
            class Weird(int):
                def __str__(self):
                    return "not a number"
                __repr__ = __str__

            def f():
                return Weird(2 ** 100)
            """
        let outcome = try await callOnce(source, returns: [.int])
        XCTAssertEqual(outcome, .returned([.bigInt("1267650600228229401496703205376")]))
    }

    /// A SyntaxError raised while module code runs (exec, importing a broken module) is not
    /// a compile error of the script itself: it should point at the script line that ran it.
    func testSyntaxErrorRaisedAtRunTimeIsReportedAsRaised() async throws {
        let error = await loadError("import json\n\n\nexec('x x')\n")
        XCTAssertEqual(error?.line, 4)
        XCTAssertEqual(error?.message.hasPrefix("running the script raised SyntaxError: invalid syntax"), true, error?.message ?? "")
    }

    /// The source is handed to Python as UTF-8 text; a coding cookie must not re-decode it.
    func testCodingCookieDoesNotGarbleUTF8Source() async throws {
        let outcome = try await callOnce("# -*- coding: latin-1 -*-\ndef f():\n    return 'é'\n", returns: [.str])
        XCTAssertEqual(outcome, .returned(["é"]))
    }
}
