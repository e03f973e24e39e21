import XCTest
import PyRPCConfig

/// Every error names the file, the exact line:column, and what was expected.
final class ErrorTests: XCTestCase {
    /// The canonical file with one line replaced (1-based).
    private func canonical(replacing line: Int, with text: String) -> String {
        var lines = canonicalYAML.components(separatedBy: "\n")
        lines[line - 1] = text
        return lines.joined(separator: "\n")
    }

    private func canonical(removing line: Int) -> String {
        var lines = canonicalYAML.components(separatedBy: "\n")
        lines.remove(at: line - 1)
        return lines.joined(separator: "\n")
    }

    func testUnknownServerInProviders() {
        assertConfigError(
            canonical(replacing: 9, with: "      providers: [s1, s3]"), line: 9, column: 23,
            "unknown server 's3' in providers of service 'calc'; declared servers are s1, s2")
    }

    func testUnknownTenant() {
        assertConfigError(
            canonical(replacing: 10, with: "      tenants: [c2]"), line: 10, column: 17,
            "unknown client 'c2' in tenants of service 'calc'; declared clients are c1")
    }

    func testMissingSrc() {
        assertConfigError(canonical(removing: 16), line: 13, column: 5, "rpc 'add' needs 'src'")
    }

    func testUnparseableType() {
        assertConfigError(
            canonical(replacing: 14, with: "      args: [int, integer]"), line: 14, column: 19,
            "'integer' is not a valid type (unknown type 'integer')", "argument types of rpc 'add'")
        assertConfigError(
            canonical(replacing: 19, with: #"      returns: ["List[float"]"#), line: 19, column: 17,
            "'List[float' is not a valid type (missing ']')", "return types")
    }

    func testPositionsAfterUnquotedBracketTypes() {
        assertConfigError(
            canonical(replacing: 14, with: "      args: [List[int], integer]"), line: 14, column: 25,
            "'integer' is not a valid type")
        assertConfigError(
            canonical(replacing: 14, with: "      args: [List[int]]  # a comment with [brackets]\n      bad: 1"), line: 15, column: 7,
            "unknown key 'bad' in rpc 'add'")
    }

    func testDuplicateOverload() {
        assertConfigError(
            canonical(replacing: 18, with: "      args: [int, int]"), line: 17, column: 5,
            "duplicate overload add(int, int) in service 'calc'", "first is at line 13")
    }

    func testUnknownKeyWithSuggestion() {
        assertConfigError(
            canonical(replacing: 9, with: "      provider: [s1, s2]"), line: 9, column: 7,
            "unknown key 'provider' in service 'calc'; did you mean 'providers'?",
            "valid keys: providers, tenants, rpcs")
        assertConfigError(
            canonical(replacing: 15, with: "      retuns: [int]"), line: 15, column: 7,
            "unknown key 'retuns' in rpc 'add'; did you mean 'returns'?")
        assertConfigError(
            canonical(replacing: 1, with: "netwrok:"), line: 1, column: 1,
            "unknown key 'netwrok' in the top level; did you mean 'network'?")
        assertConfigError(
            canonical(replacing: 3, with: "    - s1: {ip: 127.0.0.1, prot: 8181}"), line: 3, column: 27,
            "unknown key 'prot' in server 's1'; did you mean 'port'?")
    }

    func testUnknownKeyWithoutSuggestion() {
        assertConfigError(
            canonical(replacing: 21, with: "      language: python"), line: 21, column: 7,
            "unknown key 'language' in rpc 'add' (valid keys: args, returns, src, function, timeout, service)")
    }

    func testYAMLSyntaxErrorWithBracketHint() {
        // Unquoted bracket types alone are repaired (see FormTests); with the list left
        // unclosed the file stays broken, and the error points at the first bracket type.
        assertConfigError(
            canonical(replacing: 14, with: "      args: [List[int], int"), line: 14, column: 18,
            "invalid YAML: did not find expected ',' or ']'", "flow sequence that starts at line 14, column 13",
            #"hint: quote types containing brackets inside [...] lists, e.g. ["List[int]", int]"#)
    }

    func testYAMLSyntaxErrorWithIPv6Hint() {
        assertConfigError(
            canonical(replacing: 3, with: "    - s1: {ip: ::1, port: 8181}"), line: 3, column: 16,
            "invalid YAML", #"quote IPv6 addresses inside {...} maps, e.g. {ip: "::1", port: 8181}"#)
    }

    func testYAMLSyntaxErrorWithTabHint() {
        assertConfigError("network:\n\tservers: []\n", line: 2, column: 1, "invalid YAML", "YAML does not allow tabs")
    }

    func testYAMLSyntaxErrorWithoutHint() {
        assertConfigError("network: {servers: [}\n", line: 1, column: 21, "invalid YAML")
    }

    func testDuplicateNames() {
        assertConfigError(
            canonical(replacing: 4, with: "    - s1: {ip: 127.0.0.1, port: 8282}"), line: 4, column: 7,
            "server 's1' is declared twice (first at line 3)")
        assertConfigError(
            canonical(replacing: 4, with: "    - s2: {ip: 127.0.0.1, port: 8181}"), line: 4, column: 7,
            "server 's2' uses 127.0.0.1:8181, which server 's1' (line 3) already uses")
    }

    func testDuplicateKey() {
        assertConfigError(
            canonical(replacing: 21, with: "      src: other.py"), line: 21, column: 7,
            "key 'src' appears twice in rpc 'add' (first at line 20)")
        assertConfigError(
            canonical(replacing: 21, with: "      file: other.py"), line: 21, column: 7,
            "'file' and 'src' (line 20) are the same key in rpc 'add'; give only one")
    }

    func testBadPorts() {
        assertConfigError(
            canonical(replacing: 3, with: "    - s1: {ip: 127.0.0.1, port: 70000}"), line: 3, column: 33,
            "expected the port of server 's1' (a whole number from 1 to 65535), found '70000'")
        assertConfigError(
            canonical(replacing: 3, with: "    - s1: {ip: 127.0.0.1}"), line: 3, column: 7,
            "server 's1' needs 'port'")
        assertConfigError(
            canonical(replacing: 6, with: "    - c1: {port: 6000}"), line: 6, column: 7,
            "client 'c1' needs 'ip'")
    }

    func testMisindentedEntry() {
        let yaml = """
        network:
          servers:
            - s1:
              ip: 127.0.0.1
              port: 8181
        service: []
        """
        assertConfigError(yaml, line: 3, column: 7, "server entry has several keys (s1, ip, port); indent the settings under 's1:'")
    }

    func testMissingArgsAndReturns() {
        assertConfigError(canonical(removing: 14), line: 13, column: 5, "rpc 'add' needs 'args'", "args: [] for none")
        assertConfigError(canonical(removing: 15), line: 13, column: 5, "rpc 'add' needs 'returns'")
        assertConfigError(
            canonical(replacing: 15, with: "      returns:"), line: 15, column: 15,
            "expected the return types of rpc 'add' as a list", "found nothing")
    }

    func testBadTimeoutAndFunction() {
        assertConfigError(
            canonical(replacing: 22, with: "      timeout: -1"), line: 22, column: 16,
            "expected the timeout of rpc 'add' (a number of seconds greater than 0")
        assertConfigError(
            canonical(replacing: 21, with: "      function: add-two"), line: 21, column: 17,
            "function 'add-two' of rpc 'add' is not a Python identifier")
    }

    func testRPCNotListedInAnyService() {
        let yaml = networkAndCalc + """
        rpc:
          - add: {args: [int], returns: [int], src: add.py}
          - mul: {args: [int], returns: [int], src: mul.py}
        """
        assertConfigError(yaml, line: 10, column: 5, "rpc 'mul' is not listed in any service's rpcs")
    }

    func testListedRPCWithoutDefinition() {
        assertConfigError(
            canonical(replacing: 11, with: "      rpcs: [add, mul]"), line: 11, column: 19,
            "rpc 'mul' is listed in service 'calc' but not defined in the 'rpc' section")
        let noSection = canonicalYAML.components(separatedBy: "\n").prefix(11).joined(separator: "\n")
        assertConfigError(noSection, line: 11, column: 14, "rpc 'add' is listed in service 'calc' but not defined; the file has no top-level 'rpc' section")
    }

    func testUnknownServiceInRPCSection() {
        assertConfigError(
            networkAndCalc + "rpc:\n  - add: {args: [], returns: [], src: a.py, service: calk}\n", line: 9, column: 54,
            "unknown service 'calk' for rpc 'add'; declared services are calc")
        assertConfigError(
            networkAndCalc + "rpc:\n  calk:\n    - add: {args: [], returns: [], src: a.py}\n", line: 9, column: 3,
            "unknown service 'calk' in the rpc section; declared services are calc")
        assertConfigError(
            networkAndCalc + "rpc:\n  add: {args: [], returns: [], src: a.py}\n", line: 9, column: 3,
            "unknown service 'add'", "To define rpcs by name, write the section as a list")
    }

    func testTopLevelShape() {
        assertConfigError("", line: 1, column: 1, "the file is empty; expected a map with 'network', 'service' and 'rpc' sections")
        assertConfigError("# only a comment\n", line: 1, column: 1, "the file is empty")
        assertConfigError("- network\n", line: 1, column: 1, "expected a map with 'network', 'service' and 'rpc' sections at the top level, found a list")
        assertConfigError("service: []\n", line: 1, column: 1, "missing the 'network' section")
        assertConfigError(
            canonicalYAML.components(separatedBy: "\n").prefix(6).joined(separator: "\n"), line: 1, column: 1,
            "missing the 'service' section")
        assertConfigError(
            canonical(replacing: 7, with: "services:").replacingOccurrences(of: "rpc:  ", with: "service:"), line: 12, column: 1,
            "'service' and 'services' (line 7) are the same key in the top level")
        assertConfigError(canonicalYAML + "\n---\nnetwork: {}\n", line: 24, column: 1, "found a second YAML document")
    }

    func testProvidersMustNotBeEmpty() {
        assertConfigError(
            canonical(replacing: 9, with: "      providers: []"), line: 9, column: 18,
            "service 'calc' has no providers; expected at least one of the declared servers (s1, s2)")
        assertConfigError(
            canonical(removing: 10), line: 8, column: 5,
            "service 'calc' needs 'tenants'", "tenants: [] for none")
    }
}
