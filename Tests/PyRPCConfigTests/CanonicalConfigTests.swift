import XCTest
import PyRPCConfig
import PyRPCWire

final class CanonicalConfigTests: XCTestCase {
    func testCanonicalExampleLoadsEveryField() throws {
        let config = try parse(canonicalYAML)
        XCTAssertEqual(config.file, "init.yaml")
        XCTAssertEqual(config.baseDirectory, "/base")
        XCTAssertEqual(config.servers, [
            ServerNode(name: "s1", host: "127.0.0.1", port: 8181),
            ServerNode(name: "s2", host: "127.0.0.1", port: 8282),
        ])
        XCTAssertEqual(config.clients, [ClientNode(name: "c1", host: "127.0.0.1", port: 6000)])
        XCTAssertEqual(config.services.count, 1)

        let calc = try XCTUnwrap(config.service(named: "calc"))
        XCTAssertEqual(calc.providers, ["s1", "s2"])
        XCTAssertEqual(calc.tenants, ["c1"])
        XCTAssertEqual(calc.rpcs, [
            RPCConfig(
                service: "calc", name: "add", signature: Signature(arguments: [.int, .int], returns: [.int]),
                source: "/base/services/calc/add.py", sourceAsWritten: "services/calc/add.py",
                function: "add", timeout: nil),
            RPCConfig(
                service: "calc", name: "add", signature: Signature(arguments: [.float, .float], returns: [.float]),
                source: "/base/services/calc/add_float.py", sourceAsWritten: "services/calc/add_float.py",
                function: "add", timeout: 5),
        ])
        XCTAssertEqual(calc.overloads(of: "add").count, 2)
        XCTAssertEqual(config.allRPCs.count, 2)
    }

    func testLookups() throws {
        let config = try parse(canonicalYAML)
        XCTAssertEqual(config.server(named: "s2")?.port, 8282)
        XCTAssertNil(config.server(named: "s3"))
        XCTAssertEqual(config.client(named: "c1")?.host, "127.0.0.1")
        XCTAssertNil(config.client(named: "s1"))
        XCTAssertNil(config.service(named: "nope"))
        XCTAssertEqual(config.services(providedBy: "s1").map(\.name), ["calc"])
        XCTAssertEqual(config.services(providedBy: "s2").map(\.name), ["calc"])
        XCTAssertEqual(config.services(providedBy: "c1").map(\.name), [])
    }

    func testSourcePathsResolveAgainstBaseDirectory() throws {
        let yaml = networkAndCalc + """
        rpc:
          - add: {args: [int], returns: [int], src: ./services//calc/./add.py}
          - add: {args: [str], returns: [str], src: /opt/scripts/add.py}
          - add: {args: [], returns: [], src: ../shared/add.py}
        """
        let rpcs = try parse(yaml, base: "/srv/net/").allRPCs
        XCTAssertEqual(rpcs.map(\.source), ["/srv/net/services/calc/add.py", "/opt/scripts/add.py", "/srv/net/../shared/add.py"])
        XCTAssertEqual(rpcs.map(\.sourceAsWritten), ["./services//calc/./add.py", "/opt/scripts/add.py", "../shared/add.py"])
    }

    func testRelativeBaseDirectoryIsMadeAbsolute() throws {
        let config = try parse(canonicalYAML, base: "somewhere")
        XCTAssertTrue(config.baseDirectory.hasPrefix("/"), config.baseDirectory)
        XCTAssertTrue(config.baseDirectory.hasSuffix("/somewhere"), config.baseDirectory)
        XCTAssertEqual(config.allRPCs[0].source, config.baseDirectory + "/services/calc/add.py")
    }
}
