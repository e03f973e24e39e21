import Foundation
import PyRPCConfig
import PyRPCWire
import XCTest

/// `python: {venv, path}` at the top level and per server.
final class PythonSettingsTests: XCTestCase {
    private let services = """
        service:
          - calc: {providers: [s1, s2], tenants: [c1], rpcs: [add]}
        rpc:
          - add: {args: [int, int], returns: [int], src: add.py}
        """

    func testTopLevelSettingsApplyToEveryServerAndAServerOverridesKeyByKey() throws {
        let config = try parse("""
            python: {venv: ./.venv, path: [./lib, /opt/shared]}
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: 8181}
                - s2: {ip: 127.0.0.1, port: 8282, python: {venv: /srv/other-venv}}
                - s3: {ip: 127.0.0.1, port: 8383, python: {path: []}}
              clients:
                - c1: {ip: 127.0.0.1}
            \(services)
            """)
        XCTAssertEqual(config.server(named: "s1")?.python.environment,
                       PythonEnvironment(venv: "/base/.venv", path: ["/base/lib", "/opt/shared"]))
        XCTAssertEqual(config.server(named: "s2")?.python.environment,
                       PythonEnvironment(venv: "/srv/other-venv", path: ["/base/lib", "/opt/shared"]))
        XCTAssertEqual(config.server(named: "s3")?.python.environment, PythonEnvironment(venv: "/base/.venv", path: []))
    }

    func testWithoutPythonSettingsThereIsNoEnvironment() throws {
        let config = try parse(canonicalYAML)
        XCTAssertEqual(config.server(named: "s1")?.python.environment, PythonEnvironment.none)
    }

    func testUnknownKeyAndWrongShapeArePositioned() {
        assertConfigError("python: {venvv: ./.venv}\nnetwork: {}\n", line: 1, column: 10, "unknown key 'venvv'", "did you mean 'venv'")
        assertConfigError("""
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: 8181, python: ./.venv}
            """, line: 3, column: 47, "python settings of server 's1'")
    }

    func testMissingFoldersOnThisMachineAreErrorsAtTheirLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyrpc-python-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("notavenv"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = try ConfigLoader.parse(yaml: """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: 8181, python: {venv: ./missing, path: [./lib]}}
                - s2: {ip: 127.0.0.1, port: 8282, python: {venv: ./notavenv}}
              clients:
                - c1: {ip: 127.0.0.1}
            \(services)
            """, file: "init.yaml", baseDirectory: folder.path)
        let s1 = config.pythonProblems(server: "s1").map(\.description)
        XCTAssertEqual(s1.count, 2, "\(s1)")
        XCTAssertTrue(s1[0].hasPrefix("init.yaml:3:54: the venv of server 's1', \(folder.path)/missing, does not exist"), s1[0])
        XCTAssertTrue(s1[1].hasPrefix("init.yaml:3:72: the folder \(folder.path)/lib in the python path"), s1[1])
        let s2 = config.pythonProblems(server: "s2").map(\.description)
        XCTAssertEqual(s2.count, 1)
        XCTAssertTrue(s2.first?.contains("is not a virtual environment: it has no pyvenv.cfg") == true, "\(s2)")
    }

    func testTheManifestCarriesTheEnvironment() throws {
        let environment = PythonEnvironment(venv: "/srv/venv", path: ["/srv/lib"])
        let manifest = ServerManifest(server: "s1", clients: [], nodeAddresses: [], services: [], python: environment)
        XCTAssertEqual(try ServerManifest(json: manifest.json).python, environment)
        let plain = ServerManifest(server: "s1", clients: [], nodeAddresses: [], services: [])
        XCTAssertNil(plain.json["python"], "an empty environment is left out, so older stored manifests compare equal")
        XCTAssertEqual(try ServerManifest(json: plain.json), plain)
    }
}
