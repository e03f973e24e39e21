import Foundation
import PyRPCClient
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// TLS as init.yaml describes it, end to end with the real `pyrpc` commands: the server takes
/// its certificate and the client CA from init.yaml, `deploy` presents the operator's
/// certificate, `call` its client's; a client certificate is its client's identity, and the
/// client checks the server's certificate (CA, host, dates).
final class TLSIdentityTests: TLSTestCase {
    override func setUp() async throws {
        try await super.setUp()
        // c1 is declared at an address it never calls from: its certificate says who it is.
        try writeFiles([
            "init.yaml": """
                tls: {ca: ca.pem, cert: admin.pem, key: admin-key.pem}
                network:
                  servers:
                    - s1: {ip: 127.0.0.1, port: \(port), tls: {cert: s1.pem, key: s1-key.pem}}
                  clients:
                    - c1: {ip: 10.9.9.9, tls: {cert: c1.pem, key: c1-key.pem}}
                    - c2: {ip: 10.9.9.10, tls: {cert: c2.pem, key: c2-key.pem}}
                service:
                  - svc: {providers: [s1], tenants: [c1], rpcs: [add]}
                rpc:
                  - add: {args: [int, int], returns: [int], src: add.py}
                """,
            "add.py": "def add(a, b):\n    return a + b\n",
        ], in: folder)
    }

    func testAClientCertificateIsItsClientWhereverItCallsFrom() throws {
        try startServer()
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr + log)

        // c1's certificate from 127.0.0.1, not its declared 10.9.9.9: c1.
        let call = try CLIProcess.run(["call", "svc", "add", "2", "3", "--as", "c1"], in: folder)
        XCTAssertEqual(call.status, 0, call.stdout + call.stderr)
        XCTAssertEqual(call.stdout, "5\n")
        // Without `client` in the request, the certificate alone says who calls.
        let anonymous = try CLIProcess.run(["call", "--to", "127.0.0.1:\(port)", "--arg-types", "int,int", "--return-types", "int", "svc", "add", "4", "5",
                                            "--tls-cert", "c1.pem", "--tls-key", "c1-key.pem"], in: folder)
        XCTAssertEqual(anonymous.stdout, "9\n", anonymous.stdout + anonymous.stderr)

        // c2's certificate claiming c1: refused, and logged with the certificate's name.
        let claim = try CLIProcess.run(["call", "svc", "add", "2", "3", "--as", "c1", "--tls-cert", "c2.pem", "--tls-key", "c2-key.pem"], in: folder)
        XCTAssertEqual(claim.status, 1, claim.stdout + claim.stderr)
        XCTAssertTrue(claim.stderr.contains("Client Not Registered: the certificate of client 'c2' cannot call as client 'c1'"), claim.stderr)
        XCTAssertTrue(log.contains("unauthorized: svc.add from the certificate of c2 from 127.0.0.1 as c1"), log)
        // c2 as itself: a declared client, but not a tenant of svc.
        let c2 = try CLIProcess.run(["call", "svc", "add", "2", "3", "--as", "c2"], in: folder)
        XCTAssertEqual(c2.status, 1, c2.stdout + c2.stderr)
        XCTAssertTrue(c2.stderr.contains("client 'c2' may not access service 'svc': it is not one of its tenants"), c2.stderr)
        // A certificate that names no client (the operator's) leaves the address rules: c1
        // is not at 127.0.0.1.
        let address = try CLIProcess.run(["call", "svc", "add", "2", "3", "--as", "c1", "--tls-cert", "admin.pem", "--tls-key", "admin-key.pem"], in: folder)
        XCTAssertEqual(address.status, 1, address.stdout + address.stderr)
        XCTAssertTrue(address.stderr.contains("its declared address is different"), address.stderr)

        // No certificate the server's CA signed: no handshake, nothing answered.
        let stranger = try CLIProcess.run(["call", "svc", "add", "2", "3", "--tls-cert", "stranger.pem", "--tls-key", "stranger-key.pem"], in: folder)
        XCTAssertEqual(stranger.status, 3, stranger.stdout + stranger.stderr)
        XCTAssertFalse(stranger.stdout.contains("5"), stranger.stdout)
        let expired = try CLIProcess.run(["call", "svc", "add", "2", "3", "--tls-cert", "expired-c1.pem", "--tls-key", "expired-c1-key.pem"], in: folder)
        XCTAssertEqual(expired.status, 3, expired.stdout + expired.stderr)
        XCTAssertTrue(expired.stderr.contains("certificate expired"), expired.stderr)
        // The server's refusals are logged at most once a second: try until the line shows.
        XCTAssertTrue(wait(10) {
            _ = try? CLIProcess.run(["call", "svc", "add", "2", "3", "--tls-cert", "expired-c1.pem", "--tls-key", "expired-c1-key.pem"], in: folder)
            return log.contains("the client's certificate was refused: certificate has expired")
        }, log)

        // Plain text to the TLS port: the hint says what to look at.
        try writeFiles(["plain.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "add.py")])], in: folder)
        let plain = try CLIProcess.run(["call", "svc", "add", "2", "3", "--config", "plain.yaml"], in: folder)
        XCTAssertEqual(plain.status, 3, plain.stdout + plain.stderr)
        XCTAssertTrue(plain.stderr.contains("if the server speaks TLS, declare `tls:` for it in init.yaml"), plain.stderr)
    }

    func testTheClientRefusesAServerCertificateItCannotTrust() throws {
        try startServer()
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        // Another CA than the one that signed the server's certificate.
        let otherCA = try CLIProcess.run(["call", "svc", "add", "2", "3", "--tls-ca", "other-ca.pem"], in: folder)
        XCTAssertEqual(otherCA.status, 3, otherCA.stdout + otherCA.stderr)
        XCTAssertTrue(otherCA.stderr.contains("the server's certificate was refused"), otherCA.stderr)
        XCTAssertTrue(otherCA.stderr.contains("check the TLS files"), otherCA.stderr)
        stopServer()

        // A certificate for another host, then an expired one: the flags replace init.yaml's.
        for (certificate, reason) in [("c2", "IP address mismatch"), ("expired-s1", "certificate has expired")] {
            try startServer(["--tls-cert", "\(certificate).pem", "--tls-key", "\(certificate)-key.pem", "--tls-client-ca", "ca.pem"])
            let call = try CLIProcess.run(["call", "svc", "add", "2", "3"], in: folder)
            XCTAssertEqual(call.status, 3, call.stdout + call.stderr)
            XCTAssertTrue(call.stderr.contains("the server's certificate was refused: \(reason)"), "\(certificate): \(call.stderr)")
            stopServer()
        }
    }

    /// The Swift client with PEM bytes rather than files; a key that is not the certificate's
    /// is refused when the configuration is made, saying so.
    func testTheBlockingSwiftClientTakesPEMBytes() throws {
        try startServer()
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        func pem(_ name: String) throws -> TLSConfiguration.PEM { .bytes(Array(try Data(contentsOf: folder.appendingPathComponent(name)))) }
        let tls = try TLSConfiguration(ca: try pem("ca.pem"), certificate: try pem("c1.pem"), key: try pem("c1-key.pem"))
        let client = BlockingRPCClient(host: "127.0.0.1", port: port, client: "c1", tls: tls)
        defer { client.close() }
        let sum: Int = try client.call("svc", "add", 20, 22)
        XCTAssertEqual(sum, 42)
        // A new connection resumes the session (a ticket): its certificate is still c1's, and
        // c1 is still not at its declared address.
        client.close()
        let again: Int = try client.call("svc", "add", 1, 2)
        XCTAssertEqual(again, 3)
        XCTAssertThrowsError(try TLSConfiguration(ca: try pem("ca.pem"), certificate: try pem("c1.pem"), key: try pem("c2-key.pem"))) { error in
            XCTAssertEqual("\(error)".contains("the client key does not belong to the client certificate"), true, "\(error)")
        }
    }

    // MARK: - Helpers

    private func startServer(_ flags: [String] = []) throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state"] + flags, in: folder)
        XCTAssertTrue(CLIProcess.waitForOutput("serving on", in: folder.appendingPathComponent("server.out"), of: server!), log)
    }

    private func stopServer() {
        guard let server else { return }
        server.terminate()
        server.waitUntilExit()
        self.server = nil
        try? FileManager.default.removeItem(at: folder.appendingPathComponent("server.out"))
    }
}
