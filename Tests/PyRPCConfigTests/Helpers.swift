import XCTest
import PyRPCConfig

/// Parses `yaml` as if it were /base/init.yaml.
func parse(_ yaml: String, file: String = "init.yaml", base: String = "/base") throws -> NetworkConfig {
    try ConfigLoader.parse(yaml: yaml, file: file, baseDirectory: base)
}

/// Asserts that `yaml` fails at exactly `line`:`column` with a message containing every fragment.
func assertConfigError(
    _ yaml: String, line: Int, column: Int, _ fragments: String...,
    file: StaticString = #filePath, testLine: UInt = #line
) {
    do {
        let config = try ConfigLoader.parse(yaml: yaml, file: "init.yaml", baseDirectory: "/base")
        XCTFail("expected an error, loaded \(config)", file: file, line: testLine)
    } catch {
        XCTAssertEqual(error.file, "init.yaml", file: file, line: testLine)
        XCTAssertEqual("\(error.line):\(error.column)", "\(line):\(column)", "\(error)", file: file, line: testLine)
        for fragment in fragments {
            XCTAssertTrue(error.message.contains(fragment), "'\(fragment)' not in: \(error)", file: file, line: testLine)
        }
        XCTAssertTrue(error.description.hasPrefix("init.yaml:\(error.line):\(error.column): "), file: file, line: testLine)
    }
}

/// The course's canonical init.yaml (line numbers matter to the error tests).
let canonicalYAML = """
network:
  servers:
    - s1: {ip: 127.0.0.1, port: 8181}
    - s2: {ip: 127.0.0.1, port: 8282}
  clients:
    - c1: {ip: 127.0.0.1, port: 6000}   # client port optional/recorded
service:                  # `services` also accepted
  - calc:
      providers: [s1, s2]
      tenants: [c1]
      rpcs: [add]
rpc:                      # `rpcs` also accepted; a list, or a map service -> list
  - add:
      args: [int, int]
      returns: [int]
      src: services/calc/add.py
  - add:                               # an overload
      args: [float, float]
      returns: [float]
      src: services/calc/add_float.py
      function: add                    # optional, python function name; default rpc name
      timeout: 5                       # optional, seconds (int or float, > 0)
"""

/// A small valid network to which tests append an `rpc:` section.
let networkAndCalc = """
network:
  servers:
    - s1: {ip: 127.0.0.1, port: 8181}
  clients:
    - c1: {ip: 127.0.0.1}
service:
  - calc: {providers: [s1], tenants: [c1], rpcs: [add]}

"""
