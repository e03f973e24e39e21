import XCTest
@testable import PyRPCPython
import PyRPCWire

final class ZZProbeTests: XCTestCase {
    func testProbe() async throws {
        let sub = try await callOnce("class N(int):\n    def __str__(self):\n        return 'nope'\n    __repr__ = __str__\ndef f():\n    return N(2**100)\n", returns: [.int])
        print("PROBE int subclass big:", sub)
        let small = try await callOnce("class N(int):\n    def __str__(self):\n        return 'nope'\ndef f():\n    return N(5)\n", returns: [.int])
        print("PROBE int subclass small:", small)
        if case .returned(let v) = sub { print("PROBE wire:", String(decoding: RPCReply.result(v, id: 1), as: UTF8.self)) }
        let intenum = try await callOnce("import enum\nclass C(enum.IntEnum):\n    A = 2**70\ndef f():\n    return C.A\n", returns: [.int])
        print("PROBE intenum big:", intenum)
        for t in ["1e400", "-1e400", "1e-400", "1e99999999999999"] { print("PROBE parse", t, (try? JSONParser.parse(t)) as Any) }
        let huge = "1" + String(repeating: "0", count: 400)
        print("PROBE coerce huge bigInt to float", (try? ValueCoercion.coerce(.bigInt(huge), to: .float)) as Any)
        print("PROBE coerce huge string to float", (try? ValueCoercion.coerce(.string(huge), to: .float)) as Any)
        print("PROBE '1e400' to float", (try? ValueCoercion.coerce(.string("1e400"), to: .float)) as Any)
        print("PROBE zip", try await callOnce("def f(*a):\n    return len(a)\n", [1, 2, 3], types: [.int], returns: [.int]))
        let bigfloat = try await callOnce("def f(x):\n    return x\n", [.bigInt(huge)], types: [.float], returns: [.float])
        print("PROBE bigInt arg declared float (uncoerced):", bigfloat)
        let latin = try await callOnce("# -*- coding: latin-1 -*-\ndef f():\n    return 'é'\n", returns: [.str])
        print("PROBE coding cookie:", latin)
        let strsub = try await callOnce("class S(str):\n    pass\ndef f():\n    return S('x')\n", returns: [.str])
        print("PROBE str subclass:", strsub)
    }
}
