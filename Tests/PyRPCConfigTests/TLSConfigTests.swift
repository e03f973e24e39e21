import Foundation
import PyRPCConfig
import XCTest

/// `tls:` at the top level (the CA and the operator's certificate) and per server and client.
final class TLSConfigTests: XCTestCase {
    /// The example of the documentation (line numbers matter to the error tests).
    private let example = """
        tls:
          ca: certs/ca.pem
          cert: certs/admin.pem
          key: certs/admin-key.pem
        network:
          servers:
            - s1: {ip: 127.0.0.1, port: 8443, tls: {cert: certs/s1.pem, key: certs/s1-key.pem}}
          clients:
            - c1: {ip: 127.0.0.1, port: 6000, tls: {cert: certs/c1.pem, key: certs/c1-key.pem}}
        service:
          - calc: {providers: [s1], tenants: [c1], rpcs: [add]}
        rpc:
          - add: {args: [int, int], returns: [int], src: add.py}
        """

    /// The example with one line replaced (1-based).
    private func example(replacing line: Int, with text: String) -> String {
        var lines = example.components(separatedBy: "\n")
        lines[line - 1] = text
        return lines.joined(separator: "\n")
    }

    private let services = """
        service:
          - calc: {providers: [s1], tenants: [c1], rpcs: [add]}
        rpc:
          - add: {args: [int, int], returns: [int], src: add.py}
        """

    func testTheExampleLoadsFromDiskWithAbsolutePathsUnderTheFilesFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyrpc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("init.yaml").path
        try example.write(toFile: path, atomically: true, encoding: .utf8)
        let base = try XCTUnwrap(realpath(folder.path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        })

        // The certificate files do not exist: loading does not open them.
        let config = try ConfigLoader.load(path: path)
        XCTAssertEqual(config.tls, TLSSettings(
            ca: base + "/certs/ca.pem", cert: base + "/certs/admin.pem", key: base + "/certs/admin-key.pem"))
        XCTAssertTrue(config.requiresClientCertificates)
        XCTAssertEqual(config.servers, [ServerNode(
            name: "s1", host: "127.0.0.1", port: 8443,
            tls: TLSSettings(cert: base + "/certs/s1.pem", key: base + "/certs/s1-key.pem"))])
        XCTAssertEqual(config.clients, [ClientNode(
            name: "c1", host: "127.0.0.1", port: 6000,
            tls: TLSSettings(cert: base + "/certs/c1.pem", key: base + "/certs/c1-key.pem"))])
        XCTAssertNil(config.server(named: "s1")?.tls?.ca)
    }

    func testPathsAreCleanedAbsolutePathsKeptAndBlockStyleRead() throws {
        let config = try parse("""
            tls: {ca: ./certs//ca.pem}
            network:
              servers:
                - s1:
                    ip: 127.0.0.1
                    port: 8443
                    tls:
                      cert: /etc/pyrpc/s1.pem
                      key: ./s1-key.pem
                - s2: {ip: 127.0.0.1, port: 8181}
              clients:
                - c1: {ip: 127.0.0.1, tls: {cert: c1.pem, key: "keys/c1 key.pem"}}
            \(services)
            """)
        XCTAssertEqual(config.tls, TLSSettings(ca: "/base/certs/ca.pem"))
        XCTAssertTrue(config.requiresClientCertificates, "the CA alone turns mutual TLS on")
        XCTAssertEqual(config.server(named: "s1")?.tls, TLSSettings(cert: "/etc/pyrpc/s1.pem", key: "/base/s1-key.pem"))
        XCTAssertNil(config.server(named: "s2")?.tls, "a server without tls speaks plain text")
        XCTAssertEqual(config.client(named: "c1")?.tls, TLSSettings(cert: "/base/c1.pem", key: "/base/keys/c1 key.pem"))
    }

    func testTheOperatorsCertificateWithoutACADoesNotRequireClientCertificates() throws {
        let config = try parse(example(replacing: 2, with: "  # no ca"))
        XCTAssertEqual(config.tls, TLSSettings(cert: "/base/certs/admin.pem", key: "/base/certs/admin-key.pem"))
        XCTAssertFalse(config.requiresClientCertificates)
    }

    func testWithoutTLSEverythingIsNil() throws {
        let config = try parse(canonicalYAML)
        XCTAssertNil(config.tls)
        XCTAssertFalse(config.requiresClientCertificates)
        XCTAssertEqual(config.servers.map(\.tls), [nil, nil])
        XCTAssertEqual(config.clients.map(\.tls), [nil])

        // An empty `tls:` (say, with its lines commented out) is no tls, as with `python:`.
        let empty = try parse("""
            tls:
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: 8181, tls: }
              clients:
                - c1: {ip: 127.0.0.1, tls: ~}
            \(services)
            """)
        XCTAssertNil(empty.tls)
        XCTAssertNil(empty.server(named: "s1")?.tls)
        XCTAssertNil(empty.client(named: "c1")?.tls)
        XCTAssertNil(try parse("tls: {}\n" + canonicalYAML).tls)
    }

    func testAServerOrClientNeedsBothCertAndKey() {
        assertConfigError(
            example(replacing: 7, with: "    - s1: {ip: 127.0.0.1, port: 8443, tls: {cert: certs/s1.pem}}"), line: 7, column: 44,
            "server 's1' speaks TLS with its own certificate, so its tls settings need both cert and key (key is missing)",
            "write tls: {cert: certs/s1.pem, key: certs/s1-key.pem}")
        assertConfigError(
            example(replacing: 9, with: "    - c1: {ip: 127.0.0.1, port: 6000, tls: {key: certs/c1-key.pem}}"), line: 9, column: 44,
            "client 'c1' presents its own certificate when it calls, so its tls settings need both cert and key (cert is missing)",
            "write tls: {cert: certs/c1.pem, key: certs/c1-key.pem}")
        assertConfigError(
            example(replacing: 7, with: "    - s1: {ip: 127.0.0.1, port: 8443, tls: {}}"), line: 7, column: 44,
            "server 's1' speaks TLS with its own certificate, so its tls settings need both cert and key (both are missing)")
    }

    func testACAInAServerOrClientPointsAtTheTopLevel() {
        assertConfigError(
            example(replacing: 7, with: "    - s1: {ip: 127.0.0.1, port: 8443, tls: {ca: certs/ca.pem, cert: certs/s1.pem, key: certs/s1-key.pem}}"),
            line: 7, column: 45,
            "server 's1' cannot have a CA of its own: the CA is set once, for the whole network, in the top-level `tls: {ca: certs/ca.pem}`",
            "move ca there from the tls settings of server 's1'")
        assertConfigError(
            example(replacing: 9, with: "    - c1: {ip: 127.0.0.1, port: 6000, tls: {cert: certs/c1.pem, key: certs/c1-key.pem, ca: certs/ca.pem}}"),
            line: 9, column: 88,
            "client 'c1' cannot have a CA of its own: the CA is set once, for the whole network, in the top-level `tls: {ca: certs/ca.pem}`",
            "move ca there from the tls settings of client 'c1'")
    }

    func testUnknownKeysAreRejectedWithASuggestion() {
        assertConfigError(
            example(replacing: 3, with: "  certificate: certs/admin.pem"), line: 3, column: 3,
            "unknown key 'certificate' in the top-level tls settings; did you mean 'cert'? (valid keys: ca, cert, key)")
        assertConfigError(
            example(replacing: 7, with: "    - s1: {ip: 127.0.0.1, port: 8443, tls: {crt: certs/s1.pem, key: certs/s1-key.pem}}"), line: 7, column: 45,
            "unknown key 'crt' in the tls settings of server 's1'; did you mean 'cert'? (valid keys: cert, key)")
        assertConfigError(
            example(replacing: 9, with: "    - c1: {ip: 127.0.0.1, port: 6000, tsl: {cert: certs/c1.pem, key: certs/c1-key.pem}}"), line: 9, column: 39,
            "unknown key 'tsl' in client 'c1'; did you mean 'tls'? (valid keys: ip, port, tls)")
        assertConfigError(
            example(replacing: 1, with: "tsl:"), line: 1, column: 1,
            "unknown key 'tsl' in the top level; did you mean 'tls'?")
    }

    func testTopLevelCertAndKeyGoTogether() {
        assertConfigError(
            example(replacing: 4, with: "  # no key"), line: 3, column: 3,
            "tls: cert and key go together: the certificate and its private key; add `key: <file>` next to cert in the top-level tls settings (e.g. key: certs/admin-key.pem), or remove cert")
        assertConfigError(
            example(replacing: 3, with: "  # no cert"), line: 4, column: 3,
            "tls: cert and key go together: the certificate and its private key; add `cert: <file>` next to key in the top-level tls settings (e.g. cert: certs/admin.pem), or remove key")
    }

    func testValuesMustBeNonEmptyTextAndTLSAMap() {
        assertConfigError(
            example(replacing: 2, with: "  ca:"), line: 2, column: 6,
            "expected the CA certificate file of the network (e.g. certs/ca.pem), found nothing")
        assertConfigError(
            example(replacing: 7, with: #"    - s1: {ip: 127.0.0.1, port: 8443, tls: {cert: "", key: certs/s1-key.pem}}"#), line: 7, column: 51,
            "expected the certificate file of server 's1' (e.g. certs/s1.pem), found ''")
        assertConfigError(
            example(replacing: 9, with: "    - c1: {ip: 127.0.0.1, port: 6000, tls: {cert: [a.pem], key: certs/c1-key.pem}}"), line: 9, column: 51,
            "expected the certificate file of client 'c1' (e.g. certs/c1.pem), found a list")
        assertConfigError(
            "tls: certs/ca.pem\n" + canonicalYAML, line: 1, column: 6,
            "expected the top-level tls settings as a map like `tls: {ca: certs/ca.pem, cert: certs/admin.pem, key: certs/admin-key.pem}`, found 'certs/ca.pem'")
        assertConfigError(
            example(replacing: 7, with: "    - s1: {ip: 127.0.0.1, port: 8443, tls: [certs/s1.pem, certs/s1-key.pem]}"), line: 7, column: 44,
            "expected the tls settings of server 's1' as a map like `tls: {cert: certs/s1.pem, key: certs/s1-key.pem}`, found a list")
        assertConfigError(
            example(replacing: 9, with: "    - c1: {ip: 127.0.0.1, port: 6000, tls: yes}"), line: 9, column: 44,
            "expected the tls settings of client 'c1' as a map like `tls: {cert: certs/c1.pem, key: certs/c1-key.pem}`, found 'yes'")
    }
}
