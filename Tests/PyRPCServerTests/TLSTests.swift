import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve --tls-cert --tls-key [--tls-client-ca]` speaks TLS only: checked with
/// Python's `ssl` module as an independent client, certificates made by `openssl` for the
/// test, a real server process.
final class TLSTests: TLSTestCase {
    override func setUp() async throws {
        try await super.setUp()
        try writeFiles([
            "init.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "add.py")]),
            "add.py": "def add(a, b):\n    return a + b\n",
        ], in: folder)
        // Deployed in plain text first (the CLI's TLS comes later); the state persists.
        try startServer([])
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        stopServer()
    }

    func testAPythonSSLClientCallsOverTLS() throws {
        try startServer(["--tls-cert", "s1.pem", "--tls-key", "s1-key.pem"])
        let output = try python(client: nil)
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        let lines = output.stdout.split(separator: "\n")
        XCTAssertTrue(["TLSv1.3", "TLSv1.2"].contains(lines.first ?? ""), output.stdout)
        XCTAssertEqual(Array(lines.dropFirst()), ["42", "43", "44"], output.stdout)
        let corked = try python(client: nil, corked: true)
        XCTAssertEqual(corked.stdout.split(separator: "\n").dropFirst(), ["42", "43", "44"], corked.stdout + corked.stderr)
        // TLS 1.1 and older are refused.
        let old = try python(client: nil, maximumVersion: "TLSv1_1")
        XCTAssertNotEqual(old.status, 0, old.stdout)
    }

    func testPlainTextToTheTLSPortIsClosedAtOnceAndLogged() throws {
        try startServer(["--tls-cert", "s1.pem", "--tls-key", "s1-key.pem"])
        // Refusals are logged at most once a second: try until the line shows.
        XCTAssertTrue(wait(10) {
            guard let socket = try? RawSocket(host: "127.0.0.1", port: port, timeout: 5) else { return false }
            defer { socket.close() }
            try? socket.send(#"{"header":"LS-REQ","value":{}}"# + "\n")
            // Closed at once: no answer, and no wait for --message-timeout (30 s).
            if let answer = try? socket.readLine() { XCTFail("plain text got an answer from the TLS port: \(answer)") }
            return log.contains("TLS handshakes from 127.0.0.1 that failed")
        }, log)
        XCTAssertTrue(log.contains("wrong version number"), log)
    }

    func testAStalledHandshakeIsCutByTheMessageTimeout() throws {
        try startServer(["--tls-cert", "s1.pem", "--tls-key", "s1-key.pem", "--message-timeout", "1"])
        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: 10)
        defer { socket.close() }
        // The start of a ClientHello record, and then nothing.
        try socket.send([0x16, 0x03, 0x01, 0x00, 0xF0, 0x01, 0x00])
        let started = Date()
        XCTAssertTrue(try socket.readsEOF())
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "the stalled handshake was not cut by --message-timeout 1")
    }

    func testMutualTLSRequiresAClientCertificateFromTheCA() throws {
        try startServer(["--tls-cert", "s1.pem", "--tls-key", "s1-key.pem", "--tls-client-ca", "ca.pem"])
        let withCertificate = try python(client: "c1")
        XCTAssertEqual(withCertificate.status, 0, withCertificate.stdout + withCertificate.stderr)
        XCTAssertTrue(withCertificate.stdout.hasSuffix("42\n43\n44\n"), withCertificate.stdout)
        for client in [nil, "stranger"] {
            let refused = try python(client: client)
            XCTAssertNotEqual(refused.status, 0, "\(client ?? "no certificate"): \(refused.stdout)")
            XCTAssertFalse(refused.stdout.contains("42"), refused.stdout)
        }
        XCTAssertTrue(wait(10) { log.contains("TLS handshakes from 127.0.0.1 that failed") }, log)
    }

    /// SIGHUP re-reads the certificate and key: new connections get the new ones, and a file
    /// that does not load keeps the old ones (in workers started after it too), saying why.
    func testSIGHUPRotatesTheCertificateAndABrokenOneKeepsTheOld() throws {
        try startServer(["--tls-cert", "s1.pem", "--tls-key", "s1-key.pem", "--processes", "2"])
        XCTAssertEqual(try python(client: nil, printSubject: true).stdout.split(separator: "\n").first, "s1")
        let server = try XCTUnwrap(server)

        // A new certificate for the same key pair's name, issued now.
        let certificate = folder.appendingPathComponent("s1.pem")
        try TestCertificates.issue("s1-next", subjectAltName: "IP:127.0.0.1", in: folder)
        try FileManager.default.removeItem(at: certificate)
        try FileManager.default.copyItem(at: folder.appendingPathComponent("s1-next.pem"), to: certificate)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("s1-key.pem"))
        try FileManager.default.copyItem(at: folder.appendingPathComponent("s1-next-key.pem"), to: folder.appendingPathComponent("s1-key.pem"))
        kill(server.processIdentifier, SIGHUP)
        XCTAssertTrue(wait(30) { occurrences(of: "(replaced (SIGHUP))") == 2 }, log)
        let rotated = try python(client: nil, printSubject: true)
        XCTAssertEqual(rotated.stdout.split(separator: "\n").first, "s1-next", rotated.stdout + rotated.stderr)

        // A broken certificate: the workers keep the one read before, new ones too, and the
        // log says why.
        try "not a certificate\n".write(to: certificate, atomically: true, encoding: .utf8)
        kill(server.processIdentifier, SIGHUP)
        XCTAssertTrue(wait(30) { occurrences(of: "(replaced (SIGHUP))") == 4 }, log)
        XCTAssertTrue(log.contains("cannot load the TLS files again"), log)
        XCTAssertTrue(log.contains("holds no PEM certificate"), log)
        let kept = try python(client: nil, printSubject: true)
        XCTAssertEqual(kept.stdout.split(separator: "\n").first, "s1-next", kept.stdout + kept.stderr)
        XCTAssertTrue(kept.stdout.hasSuffix("42\n43\n44\n"), kept.stdout)
    }

    // MARK: - Helpers

    private func startServer(_ flags: [String]) throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state"] + flags, in: folder)
        XCTAssertTrue(CLIProcess.waitForOutput("serving on", in: folder.appendingPathComponent("server.out"), of: server), log)
    }

    private func stopServer() {
        guard let server else { return }
        server.terminate()
        server.waitUntilExit()
        self.server = nil
    }

    /// Python's `ssl`: verifies the server against ca.pem and 127.0.0.1, presents `client`'s
    /// certificate if given, pipelines add(i, 42) for i in 0..<3; prints the TLS version and
    /// the sums.
    /// `corked`: the three requests' records leave in one TCP segment, so the server reads
    /// them in one read (it reads ahead) and must not wait for the socket to say more.
    private func python(client: String?, maximumVersion: String? = nil, printSubject: Bool = false, corked: Bool = false) throws -> CLIProcess.Output {
        let script = """
            import json, socket, ssl
            context = ssl.create_default_context(cafile="ca.pem")
            \(client.map { "context.load_cert_chain(\"\($0).pem\", \"\($0)-key.pem\")" } ?? "")
            \(maximumVersion.map { "context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED; context.maximum_version = ssl.TLSVersion.\($0)" } ?? "")
            with socket.create_connection(("127.0.0.1", \(port)), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    \(printSubject ? "print(dict(item[0] for item in tls.getpeercert()['subject'])['commonName'])" : "print(tls.version())")
                    tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, \(corked ? 1 : 0))
                    for i in range(3):
                        request = {"header": "RPC-REQ", "value": {"client": "c1", "service": "svc", "rpc": "add", "arguments": [i, 42],
                                   "argument-types": ["int", "int"], "return-types": ["int"], "id": i}}
                        tls.sendall((json.dumps(request) + "\\n").encode())
                    tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                    answers = tls.makefile("rb")
                    for i in range(3):
                        print(json.loads(answers.readline())["value"]["return-values"][0])
            """
        try script.write(to: folder.appendingPathComponent("client.py"), atomically: true, encoding: .utf8)
        return try CLIProcess.run(["python3", "client.py"], in: folder, executable: "/usr/bin/env")
    }
}
