import XCTest
import PyRPCConfig
import PyRPCWire

/// The accepted spellings: map forms, aliases, scalars as one-element lists, and so on.
final class FormTests: XCTestCase {
    func testMapFormsForServersClientsAndServices() throws {
        let config = try parse("""
        network:
          servers:
            s1: {host: localhost, port: 8181}
            s2:
              ip: 10.0.0.2
              port: "8282"
          clients:
            c1: {ip: 127.0.0.1}
            c2: {host: 10.0.0.9, port: 6001}
        services:
          calc:
            providers: s1
            tenants: [c1, c2]
            rpcs: add
          text:
            providers: [s2, s1, s2]
            tenants: []
        rpcs:
          - add: {args: int, returns: int, src: add.py}
        """)
        XCTAssertEqual(config.servers, [
            ServerNode(name: "s1", host: "localhost", port: 8181),
            ServerNode(name: "s2", host: "10.0.0.2", port: 8282),
        ])
        XCTAssertEqual(config.clients, [
            ClientNode(name: "c1", host: "127.0.0.1", port: nil),
            ClientNode(name: "c2", host: "10.0.0.9", port: 6001),
        ])
        XCTAssertEqual(config.services.map(\.name), ["calc", "text"])
        XCTAssertEqual(config.services[0].providers, ["s1"])
        XCTAssertEqual(config.services[0].tenants, ["c1", "c2"])
        XCTAssertEqual(config.services[0].rpcs.map(\.signature), [Signature(arguments: [.int], returns: [.int])])
        XCTAssertEqual(config.services[1].providers, ["s2", "s1"], "repeats are dropped, order kept")
        XCTAssertEqual(config.services[1].tenants, [])
        XCTAssertEqual(config.services[1].rpcs, [])
        XCTAssertEqual(config.services(providedBy: "s1").map(\.name), ["calc", "text"])
        XCTAssertEqual(config.services(providedBy: "s2").map(\.name), ["text"])
    }

    func testNameKeyForm() throws {
        let config = try parse("""
        network:
          servers:
            - {name: s1, ip: 127.0.0.1, port: 8181}
        service:
          - name: calc
            providers: [s1]
            tenants: []
            rpcs: [add]
        rpc:
          - name: add
            args: [int]
            returns: [int]
            src: add.py
        """)
        XCTAssertEqual(config.servers, [ServerNode(name: "s1", host: "127.0.0.1", port: 8181)])
        XCTAssertEqual(config.service(named: "calc")?.rpcs.map(\.name), ["add"])
    }

    func testRPCKeyAliases() throws {
        let config = try parse(networkAndCalc + """
        rpc:
          - add:
              arguments: [int, int]
              return: [int]
              source: a.py
          - add:
              argument-types: [str, str]
              return-types: [str]
              file: b.py
          - add:
              args: ["List[int]"]
              returns: List[int]
              src: c.py
          - add:
              args: [list[list[float]], bool]
              returns: []
              src: d.py
        """)
        let rpcs = config.allRPCs
        XCTAssertEqual(rpcs.map(\.signature), [
            Signature(arguments: [.int, .int], returns: [.int]),
            Signature(arguments: [.str, .str], returns: [.str]),
            Signature(arguments: [.list(.int)], returns: [.list(.int)]),
            Signature(arguments: [.list(.list(.float)), .bool], returns: []),
        ])
        XCTAssertEqual(rpcs.map(\.sourceAsWritten), ["a.py", "b.py", "c.py", "d.py"])
    }

    func testRPCAsMapByService() throws {
        let config = try parse("""
        network:
          servers:
            - s1: {ip: 127.0.0.1, port: 8181}
          clients:
            - c1: {ip: 127.0.0.1}
        service:
          - calc: {providers: [s1], tenants: [c1]}
          - text: {providers: [s1], tenants: [c1], rpcs: [upper]}
        rpc:
          calc:
            - add: {args: [int, int], returns: [int], src: calc/add.py}
            - add: {args: [float, float], returns: [float], src: calc/addf.py, function: add}
            - neg: {args: [int], returns: [int], src: calc/neg.py, service: calc}
          text:
            upper: {args: [str], returns: [str], src: text/upper.py}
        """)
        let calc = try XCTUnwrap(config.service(named: "calc"))
        XCTAssertEqual(calc.rpcs.map(\.name), ["add", "add", "neg"])
        XCTAssertTrue(calc.rpcs.allSatisfy { $0.service == "calc" })
        let text = try XCTUnwrap(config.service(named: "text"))
        XCTAssertEqual(text.rpcs.map(\.name), ["upper"])
        XCTAssertEqual(text.rpcs[0].source, "/base/text/upper.py")
    }

    func testExplicitServiceKeyWinsOverListing() throws {
        let config = try parse("""
        network:
          servers: {s1: {ip: 127.0.0.1, port: 8181}}
          clients: {c1: {ip: 127.0.0.1}}
        service:
          calc: {providers: [s1], tenants: [c1], rpcs: [add]}
          other: {providers: [s1], tenants: [c1], rpcs: [add]}
          extra: {providers: [s1], tenants: [c1]}
        rpc:
          - add: {args: [int], returns: [int], src: add.py}
          - mul: {args: [int], returns: [int], src: mul.py, service: extra}
        """)
        XCTAssertEqual(config.service(named: "calc")?.rpcs.map(\.name), ["add"])
        XCTAssertEqual(config.service(named: "other")?.rpcs.map(\.name), ["add"], "an rpc listed by two services belongs to both")
        XCTAssertEqual(config.service(named: "other")?.rpcs.first?.service, "other")
        XCTAssertEqual(config.service(named: "extra")?.rpcs.map(\.name), ["mul"])
    }

    func testUnquotedBracketTypesInFlowListsLoad() throws {
        let config = try parse(networkAndCalc + """
        rpc:
          - add:
              args: [List[int], int, List[List[float]]]
              returns: [List[str]]      # comment [with brackets]
              src: "add[1].py"
          - add: {args: [list[bool]], returns: List[int], src: sum[2].py}
        """)
        XCTAssertEqual(config.allRPCs.map(\.signature), [
            Signature(arguments: [.list(.int), .int, .list(.list(.float))], returns: [.list(.str)]),
            Signature(arguments: [.list(.bool)], returns: [.list(.int)]),
        ])
        XCTAssertEqual(config.allRPCs.map(\.sourceAsWritten), ["add[1].py", "sum[2].py"])
    }

    func testCommaSeparatedScalarsAreLists() throws {
        let config = try parse("""
        network:
          servers:
            - s1: {ip: 127.0.0.1, port: 8181}
            - s2: {ip: 127.0.0.1, port: 8282}
        service:
          - calc:
              providers: s1, s2
              tenants:
              rpcs: add
        rpc:
          - add:
              args: int, List[int]
              returns: int
              src: add.py
        """)
        XCTAssertEqual(config.services[0].providers, ["s1", "s2"])
        XCTAssertEqual(config.services[0].tenants, [])
        XCTAssertEqual(config.allRPCs.map(\.signature), [Signature(arguments: [.int, .list(.int)], returns: [.int])])
    }

    func testOverloadsFunctionAndTimeout() throws {
        let config = try parse(networkAndCalc + """
        rpc:
          - add: {args: [int, int], returns: [int], src: add.py}
          - add: {args: [int, int, int], returns: [int], src: add3.py, function: add_three, timeout: 0.25}
          - add: {args: [str, str], returns: [str], src: adds.py, timeout: 30}
          - add: {args: [int, str], returns: [int], src: addx.py, timeout: }
        """)
        let rpcs = config.allRPCs
        XCTAssertEqual(rpcs.count, 4)
        XCTAssertEqual(rpcs.map(\.function), ["add", "add_three", "add", "add"])
        XCTAssertEqual(rpcs.map(\.timeout), [nil, 0.25, 30, nil])
        XCTAssertEqual(rpcs.map(\.signature.arguments.count), [2, 3, 2, 2])
    }

    func testIPv6Addresses() throws {
        let config = try parse("""
        network:
          servers:
            - s1: {ip: "::1", port: 8181}
            - s2:
                ip: ::1
                port: 8282
            - s3: {ip: "[fe80::1]", port: 8383}
            - s4: {ip: 2001:db8::7, port: 8484}
          clients:
            - c1: {ip: '::1'}
        service:
          - calc: {providers: [s1, s2, s3, s4], tenants: [c1]}
        """)
        XCTAssertEqual(config.servers.map(\.host), ["::1", "::1", "fe80::1", "2001:db8::7"])
        XCTAssertEqual(config.clients.map(\.host), ["::1"])
        XCTAssertEqual(config.allRPCs, [], "the rpc section may be absent when no service lists rpcs")
    }

    func testEmptyServicesMeanNothingIsServed() throws {
        let config = try parse("network:\n  servers: [s1: {ip: 127.0.0.1, port: 8181}]\nservice: []\n")
        XCTAssertEqual(config.services, [])
        XCTAssertEqual(config.clients, [])
        XCTAssertEqual(config.services(providedBy: "s1"), [])
    }

    func testSameRPCNameInTwoServicesIsNotADuplicate() throws {
        let config = try parse("""
        network:
          servers: [s1: {ip: 127.0.0.1, port: 8181}]
        service:
          - a: {providers: [s1], tenants: []}
          - b: {providers: [s1], tenants: []}
        rpc:
          a: [echo: {args: [str], returns: [str], src: a.py}]
          b: [echo: {args: [str], returns: [str], src: b.py}]
        """)
        XCTAssertEqual(config.allRPCs.map(\.service), ["a", "b"])
    }
}
