import Foundation
import PyRPCConfig
import XCTest

/// A server's `metrics:` key, the address of its operations port (`/metrics`, `/livez`, `/readyz`).
final class MetricsConfigTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyrpc-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// init.yaml with these server lines from line 3 on, then client c1 and service calc on s1.
    private func yaml(_ servers: String...) -> String {
        """
        network:
          servers:
        \(servers.joined(separator: "\n"))
          clients:
            - c1: {ip: 127.0.0.1}
        service:
          - calc: {providers: [s1], tenants: [c1], rpcs: [add]}
        rpc:
          - add: {args: [int, int], returns: [int], src: add.py}
        """
    }

    /// Writes `text` as init.yaml in the test's folder and loads it.
    private func load(_ text: String) throws -> NetworkConfig {
        let path = folder.appendingPathComponent("init.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try ConfigLoader.load(path: path)
    }

    /// Asserts that loading `text` fails at exactly `line`:`column` with exactly `message`.
    private func assertError(
        _ text: String, line: Int, column: Int, _ message: String, file: StaticString = #filePath, testLine: UInt = #line
    ) {
        let path = folder.appendingPathComponent("init.yaml").path
        do {
            let config = try load(text)
            XCTFail("expected an error, loaded \(config.servers)", file: file, line: testLine)
        } catch let error as ConfigError {
            XCTAssertEqual(error.file, path, file: file, line: testLine)
            XCTAssertEqual("\(error.line):\(error.column)", "\(line):\(column)", "\(error)", file: file, line: testLine)
            XCTAssertEqual(error.message, message, file: file, line: testLine)
            XCTAssertEqual(error.description, "\(path):\(line):\(column): \(message)", file: file, line: testLine)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: testLine)
        }
    }

    // MARK: - Forms

    func testTheExampleLoads() throws {
        let config = try load(yaml(
            "    - s1: {ip: 127.0.0.1, port: 8181, metrics: 9181}",
            #"    - s2: {ip: 10.0.0.5, port: 8181, metrics: "0.0.0.0:9100"}"#))
        XCTAssertEqual(config.servers, [
            ServerNode(name: "s1", host: "127.0.0.1", port: 8181, metrics: MetricsAddress(host: "127.0.0.1", port: 9181)),
            ServerNode(name: "s2", host: "10.0.0.5", port: 8181, metrics: MetricsAddress(host: "0.0.0.0", port: 9100)),
        ])
        XCTAssertEqual(config.servers.map { $0.metrics?.description }, ["127.0.0.1:9181", "0.0.0.0:9100"])
    }

    func testABarePortIsTheServersOwnHostAsWritten() throws {
        let config = try load(yaml(
            "    - s1: {ip: 127.0.0.1, port: 8181, metrics: 9181}",
            "    - s2: {host: localhost, port: 8282, metrics: 9282}",
            #"    - s3: {ip: "::1", port: 8383, metrics: 9383}"#,
            #"    - s4: {ip: "[::1]", port: 8484, metrics: "9484"}"#,
            "    - s5:",
            "        ip: 10.0.0.5",
            "        port: 8585",
            "        metrics: 9585"))
        XCTAssertEqual(config.servers.map(\.metrics), [
            MetricsAddress(host: "127.0.0.1", port: 9181),
            MetricsAddress(host: "localhost", port: 9282),
            MetricsAddress(host: "::1", port: 9383),
            MetricsAddress(host: "::1", port: 9484),
            MetricsAddress(host: "10.0.0.5", port: 9585),
        ])
        XCTAssertEqual(config.servers.map { $0.metrics?.description ?? "-" },
                       ["127.0.0.1:9181", "localhost:9282", "[::1]:9383", "[::1]:9484", "10.0.0.5:9585"])
        XCTAssertEqual("\(config.servers[2].metrics!)", "[::1]:9383")
    }

    func testHostAndPort() throws {
        let config = try load(yaml(
            "    - s1: {ip: 127.0.0.1, port: 8181, metrics: 0.0.0.0:9181}",
            #"    - s2: {ip: 127.0.0.1, port: 8282, metrics: "[::1]:9282"}"#,
            "    - s3: {ip: 127.0.0.1, port: 8383, metrics: localhost:9383}",
            #"    - s4: {ip: "::1", port: 8484, metrics: "[::]:9484"}"#,
            "    - s5:",
            "        ip: 10.0.0.5",
            "        port: 8585",
            "        metrics: 10.0.0.5:9585",
            "    - s6:",
            "        ip: 10.0.0.6",
            "        port: 8686",
            "        metrics: '[fe80::1]:9686'",
            "    - s7:",
            "        ip: 10.0.0.7",
            "        port: 8787",
            "        metrics: localhost:9787"))
        XCTAssertEqual(config.servers.map(\.metrics), [
            MetricsAddress(host: "0.0.0.0", port: 9181),
            MetricsAddress(host: "::1", port: 9282),
            MetricsAddress(host: "localhost", port: 9383),
            MetricsAddress(host: "::", port: 9484),
            MetricsAddress(host: "10.0.0.5", port: 9585),
            MetricsAddress(host: "fe80::1", port: 9686),
            MetricsAddress(host: "localhost", port: 9787),
        ])
        XCTAssertEqual(config.servers.map { $0.metrics?.description ?? "-" },
                       ["0.0.0.0:9181", "[::1]:9282", "localhost:9383", "[::]:9484", "10.0.0.5:9585", "[fe80::1]:9686", "localhost:9787"])
    }

    func testWithoutMetricsItIsNil() throws {
        let config = try load(yaml(
            "    - s1: {ip: 127.0.0.1, port: 8181}",
            "    - s2: {ip: 127.0.0.1, port: 8282, metrics: }",
            "    - s3: {ip: 127.0.0.1, port: 8383, metrics: ~}"))
        XCTAssertEqual(config.servers.map(\.metrics), [nil, nil, nil])
        XCTAssertEqual(try parse(canonicalYAML).servers.map(\.metrics), [nil, nil])
        XCTAssertEqual(ServerNode(name: "s1", host: "127.0.0.1", port: 8181).metrics, nil)
    }

    // MARK: - Bad addresses

    /// `yaml` with s1's metrics value replaced; the value starts at line 3, column 48.
    private func s1(metrics value: String) -> String {
        yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: \(value)}")
    }

    func testABarePortMustBeFrom1To65535() {
        assertError(s1(metrics: "0"), line: 3, column: 48,
                    "expected the metrics port of server 's1' (a whole number from 1 to 65535), found '0'")
        assertError(s1(metrics: "70000"), line: 3, column: 48,
                    "expected the metrics port of server 's1' (a whole number from 1 to 65535), found '70000'")
        assertError(s1(metrics: "-1"), line: 3, column: 48,
                    "expected the metrics port of server 's1' (a whole number from 1 to 65535), found '-1'")
        assertError(s1(metrics: "99999999999999999999999"), line: 3, column: 48,
                    "expected the metrics port of server 's1' (a whole number from 1 to 65535), found '99999999999999999999999'")
    }

    func testTextThatIsNeitherAPortNorHostColonPort() {
        assertError(s1(metrics: "abc"), line: 3, column: 48,
                    "expected the metrics address of server 's1' as a port (e.g. metrics: 9181) or HOST:PORT (e.g. metrics: 0.0.0.0:9181), found 'abc'")
        assertError(s1(metrics: "9181.5"), line: 3, column: 48,
                    "expected the metrics address of server 's1' as a port (e.g. metrics: 9181) or HOST:PORT (e.g. metrics: 0.0.0.0:9181), found '9181.5'")
        assertError(s1(metrics: "{port: 9181}"), line: 3, column: 48,
                    "expected the metrics address of server 's1' as a port (e.g. metrics: 9181) or HOST:PORT (e.g. metrics: 0.0.0.0:9181), found a map")
        assertError(s1(metrics: #""""#), line: 3, column: 48,
                    "expected the metrics address of server 's1' as a port (e.g. metrics: 9181) or HOST:PORT (e.g. metrics: 0.0.0.0:9181), found ''")
    }

    func testHostColonPortNeedsAHostAndAValidPort() {
        assertError(s1(metrics: #""host:""#), line: 3, column: 48,
                    "the metrics address of server 's1' ('host:') has no port after ':'; write HOST:PORT with a port from 1 to 65535, e.g. metrics: host:9181")
        assertError(s1(metrics: #"":9181""#), line: 3, column: 48,
                    "the metrics address of server 's1' (':9181') has no host before ':'; write HOST:PORT (e.g. metrics: 0.0.0.0:9181), or the port alone (e.g. metrics: 9181) for the server's own ip")
        assertError(s1(metrics: "localhost:abc"), line: 3, column: 48,
                    "expected the port in the metrics address of server 's1' (a whole number from 1 to 65535, e.g. metrics: localhost:9181), found 'abc' in 'localhost:abc'")
        assertError(s1(metrics: "0.0.0.0:0"), line: 3, column: 48,
                    "expected the port in the metrics address of server 's1' (a whole number from 1 to 65535, e.g. metrics: 0.0.0.0:9181), found '0' in '0.0.0.0:0'")
        assertError(s1(metrics: "0.0.0.0:70000"), line: 3, column: 48,
                    "expected the port in the metrics address of server 's1' (a whole number from 1 to 65535, e.g. metrics: 0.0.0.0:9181), found '70000' in '0.0.0.0:70000'")
        assertError(s1(metrics: #""my host:9181""#), line: 3, column: 48,
                    #"expected the host of the metrics address of server 's1' (e.g. 0.0.0.0, localhost or "[::1]"), found 'my host' in 'my host:9181'"#)
        assertError(s1(metrics: #""[]:9181""#), line: 3, column: 48,
                    "the metrics address of server 's1' ('[]:9181') has no host before ':'; write HOST:PORT (e.g. metrics: 0.0.0.0:9181), or the port alone (e.g. metrics: 9181) for the server's own ip")
        assertError(s1(metrics: #""[::1]:""#), line: 3, column: 48,
                    #"the metrics address of server 's1' ('[::1]:') has no port after ':'; write HOST:PORT with a port from 1 to 65535, e.g. metrics: "[::1]:9181""#)
        assertError(s1(metrics: #""[::1]:65536""#), line: 3, column: 48,
                    #"expected the port in the metrics address of server 's1' (a whole number from 1 to 65535, e.g. metrics: "[::1]:9181"), found '65536' in '[::1]:65536'"#)
    }

    func testAnIPv6HostNeedsBrackets() {
        assertError(s1(metrics: #""::1:9181""#), line: 3, column: 48,
                    #"the metrics address of server 's1' ('::1:9181') has more than one ':'; write an IPv6 host in brackets inside quotes, e.g. metrics: "[::1]:9181""#)
        assertError(yaml("    - s1:", "        ip: 127.0.0.1", "        port: 8181", "        metrics: ::1:9181"), line: 6, column: 18,
                    #"the metrics address of server 's1' ('::1:9181') has more than one ':'; write an IPv6 host in brackets inside quotes, e.g. metrics: "[::1]:9181""#)
        assertError(s1(metrics: #""fe80::1""#), line: 3, column: 48,
                    #"the metrics address of server 's1' ('fe80::1') has more than one ':'; write an IPv6 host in brackets inside quotes, e.g. metrics: "[fe80::1]:9181""#)
        assertError(s1(metrics: #""[::1:9181""#), line: 3, column: 48,
                    #"the metrics address of server 's1' ('[::1:9181') has no ']' after its IPv6 host; write it as "[HOST]:PORT", e.g. metrics: "[::1]:9181""#)
        assertError(s1(metrics: #""[::1]9181""#), line: 3, column: 48,
                    #"the metrics address of server 's1' ('[::1]9181') needs ':PORT' after ']'; write HOST:PORT, e.g. metrics: "[::1]:9181""#)
        // Unquoted, `[` opens a YAML list.
        assertError(s1(metrics: "[9181]"), line: 3, column: 48,
                    #"expected the metrics address of server 's1' as a port (e.g. metrics: 9181) or HOST:PORT (e.g. metrics: 0.0.0.0:9181), found a list; write an IPv6 host in brackets inside quotes, e.g. metrics: "[::1]:9181""#)
    }

    func testAnUnquotedBracketedAddressGetsAHint() {
        let text = yaml("    - s1:", "        ip: 127.0.0.1", "        port: 8181", "        metrics: [::1]:9181")
        do {
            _ = try load(text)
            XCTFail("expected a syntax error")
        } catch let error as ConfigError {
            XCTAssertEqual("\(error.line):\(error.column)", "6:19", "\(error)")
            XCTAssertTrue(error.message.hasPrefix("invalid YAML: "), "\(error)")
            XCTAssertTrue(error.message.contains(#"hint: quote a metrics address in brackets, e.g. metrics: "[::1]:9181" (unquoted, '[' starts a list)"#), "\(error)")
        } catch {
            XCTFail("unexpected error \(error)")
        }
    }

    // MARK: - Addresses in use

    func testTheServersOwnRPCPortIsRefused() {
        assertError(s1(metrics: "8181"), line: 3, column: 48,
                    "server 's1': metrics port 8181 is the server's RPC port; give the operations port its own, e.g. metrics: 9181")
        assertError(s1(metrics: "127.0.0.1:8181"), line: 3, column: 48,
                    "server 's1': metrics port 8181 is the server's RPC port; give the operations port its own, e.g. metrics: 127.0.0.1:9181")
        assertError(s1(metrics: "0.0.0.0:8181"), line: 3, column: 48,
                    "server 's1': metrics port 8181 is the server's RPC port (0.0.0.0 is every address, 127.0.0.1 included); give the operations port its own, e.g. metrics: 0.0.0.0:9181")
        assertError(yaml(#"    - s1: {ip: "::1", port: 8181, metrics: "[::1]:8181"}"#), line: 3, column: 44,
                    #"server 's1': metrics port 8181 is the server's RPC port; give the operations port its own, e.g. metrics: "[::1]:9181""#)
        assertError(yaml("    - s1: {ip: 0.0.0.0, port: 8181, metrics: 127.0.0.1:8181}"), line: 3, column: 46,
                    "server 's1': metrics port 8181 is the server's RPC port (the server's ip 0.0.0.0 is every address, 127.0.0.1 included); give the operations port its own, e.g. metrics: 127.0.0.1:9181")
        // The example skips ports other servers use.
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: 9282}",
                         "    - s2: {ip: 127.0.0.1, port: 8282, metrics: 8282}"), line: 4, column: 48,
                    "server 's2': metrics port 8282 is the server's RPC port; give the operations port its own, e.g. metrics: 9283")
    }

    func testTheRPCPortOnAnotherAddressIsAllowed() throws {
        let config = try load(yaml(
            "    - s1: {ip: 10.0.0.5, port: 8181, metrics: 127.0.0.1:8181}",
            #"    - s2: {ip: 127.0.0.1, port: 8282, metrics: "[::1]:8282"}"#))
        XCTAssertEqual(config.servers.map { $0.metrics?.description ?? "-" }, ["127.0.0.1:8181", "[::1]:8282"])
    }

    func testTwoServersCannotShareAMetricsAddress() {
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: 9181}",
                         "    - s2: {ip: 127.0.0.1, port: 8282, metrics: 9181}"), line: 4, column: 48,
                    "server 's2': metrics address 127.0.0.1:9181 is already used by server 's1' (line 3) for its metrics; give each server its own metrics port, e.g. metrics: 9182")
        assertError(yaml(#"    - s1: {ip: 10.0.0.5, port: 8181, metrics: "10.0.0.9:9100"}"#,
                         #"    - s2: {ip: 10.0.0.6, port: 8181, metrics: "10.0.0.9:9100"}"#), line: 4, column: 47,
                    "server 's2': metrics address 10.0.0.9:9100 is already used by server 's1' (line 3) for its metrics; give each server its own metrics port, e.g. metrics: 10.0.0.9:9101")
        // On one machine (the same ip) 0.0.0.0 covers 127.0.0.1.
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: 0.0.0.0:9100}",
                         "    - s2: {ip: 127.0.0.1, port: 8282, metrics: 9100}"), line: 4, column: 48,
                    "server 's2': metrics address 127.0.0.1:9100 is already used by server 's1' (line 3) for its metrics (0.0.0.0:9100); give each server its own metrics port, e.g. metrics: 9101")
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: 0.0.0.0:9100}",
                         "    - s2: {ip: 127.0.0.1, port: 8282, metrics: 0.0.0.0:9100}"), line: 4, column: 48,
                    "server 's2': metrics address 0.0.0.0:9100 is already used by server 's1' (line 3) for its metrics; give each server its own metrics port, e.g. metrics: 0.0.0.0:9101")
    }

    func testTheSameWildcardOrLoopbackOnTwoMachinesIsAllowed() throws {
        let config = try load(yaml(
            "    - s1: {ip: 10.0.0.5, port: 8181, metrics: 0.0.0.0:9100}",
            "    - s2: {ip: 10.0.0.6, port: 8181, metrics: 0.0.0.0:9100}",
            "    - s3: {ip: 10.0.0.7, port: 8181, metrics: localhost:9100}",
            "    - s4: {ip: 10.0.0.8, port: 8181, metrics: localhost:9100}",
            "    - s5: {ip: 127.0.0.1, port: 8181, metrics: 9181}",
            "    - s6: {ip: 127.0.0.2, port: 8181, metrics: 9181}"))
        XCTAssertEqual(config.servers.compactMap(\.metrics).count, 6)
    }

    func testAMetricsAddressCannotBeAnotherServersRPCAddress() {
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181}",
                         "    - s2: {ip: 127.0.0.1, port: 8282, metrics: 8181}"), line: 4, column: 48,
                    "server 's2': metrics address 127.0.0.1:8181 is already used by server 's1' (line 3) for its RPC port; give the operations port its own, e.g. metrics: 8182")
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181}",
                         "    - s2: {ip: 127.0.0.1, port: 8282, metrics: 0.0.0.0:8181}"), line: 4, column: 48,
                    "server 's2': metrics address 0.0.0.0:8181 is already used by server 's1' (line 3) for its RPC port (127.0.0.1:8181); give the operations port its own, e.g. metrics: 0.0.0.0:8182")
        // The other way round the RPC port is reported, where the server is named, as for two RPC ports.
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: 8282}",
                         "    - s2: {ip: 127.0.0.1, port: 8282}"), line: 4, column: 7,
                    "server 's2' uses 127.0.0.1:8282, which server 's1' (line 3) already uses for its metrics; give each its own port")
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: \"[::]:8282\"}",
                         "    - s2: {ip: 127.0.0.1, port: 8282}"), line: 4, column: 7,
                    "server 's2' uses 127.0.0.1:8282, which server 's1' (line 3) already uses for its metrics ([::]:8282); give each its own port")
    }

    // MARK: - Keys

    func testAMisspeltKeySuggestsMetrics() {
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metric: 9181}"), line: 3, column: 39,
                    "unknown key 'metric' in server 's1'; did you mean 'metrics'? (valid keys: ip, port, python, tls, metrics)")
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metircs: 9181}"), line: 3, column: 39,
                    "unknown key 'metircs' in server 's1'; did you mean 'metrics'? (valid keys: ip, port, python, tls, metrics)")
        assertError(yaml("    - s1: {ip: 127.0.0.1, port: 8181, metrics: 9181, metrics: 9182}"), line: 3, column: 54,
                    "key 'metrics' appears twice in server 's1' (first at line 3); give it once")
    }

    func testClientsHaveNoMetrics() {
        let text = yaml("    - s1: {ip: 127.0.0.1, port: 8181}")
            .replacingOccurrences(of: "- c1: {ip: 127.0.0.1}", with: "- c1: {ip: 127.0.0.1, metrics: 9181}")
        assertError(text, line: 5, column: 27,
                    "unknown key 'metrics' in client 'c1' (valid keys: ip, port, tls)")
    }
}
