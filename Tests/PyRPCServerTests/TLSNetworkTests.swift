import Foundation
import XCTest

/// TLS between two hosts (a network namespace this test makes; root only): the deploy token
/// may travel encrypted, the operator's certificate may deploy and see everything without it,
/// a client's certificate is its identity from any address, and LS-REQ shows a tenant only
/// its services.
final class TLSNetworkTests: XCTestCase {
    var folder: URL!
    var host: ClientHost!

    override func setUp() async throws {
        guard ClientHost.isAvailable, FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            throw XCTSkip("needs root, iproute2 and openssl to make a client host and certificates")
        }
        folder = try makeTemporaryFolder()
        host = try ClientHost()
    }

    override func tearDown() async throws {
        host?.remove()
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    func testTheOperatorCertificateAndTheTokenOverTLSFromAnotherHost() throws {
        try TestCertificates.make(in: folder)
        try TestCertificates.issue("s1-lan", subjectAltName: "IP:\(host.serverAddress)", in: folder)
        let port = CLIProcess.freePort()
        try writeFiles([
            "init.yaml": """
                tls: {ca: ca.pem, cert: admin.pem, key: admin-key.pem}
                network:
                  servers:
                    - s1: {ip: \(host.serverAddress), port: \(port), tls: {cert: s1-lan.pem, key: s1-lan-key.pem}}
                  clients:
                    - c1: {ip: 10.213.\(host.subnet).99, tls: {cert: c1.pem, key: c1-key.pem}}
                service:
                  - calc: {providers: [s1], tenants: [c1], rpcs: [add]}
                  - ops: {providers: [s1], tenants: [], rpcs: [reset]}
                rpc:
                  - add: {args: [int, int], returns: [int], src: add.py}
                  - reset: {args: [], returns: [int], src: reset.py}
                """,
            "add.py": "def add(a, b):\n    return a + b\n",
            "reset.py": "def reset():\n    return 0\n",
        ], in: folder)
        let secret = "s3cret-\(UUID().uuidString)"
        let server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "2"], in: folder,
                                          environment: ["PYRPC_DEPLOY_TOKEN": secret])
        defer { server.terminate(); server.waitUntilExit() }
        XCTAssertTrue(CLIProcess.waitForOutput("serving on", in: folder.appendingPathComponent("server.out"), of: server))
        let log = { CLIProcess.contents(self.folder.appendingPathComponent("server.err")) }
        XCTAssertFalse(log().contains("in plain text with a deploy token"), log())

        // The token goes over TLS without --insecure-plaintext-token.
        let withToken = try host.pyrpc(["deploy", "--tls-cert", "c1.pem", "--tls-key", "c1-key.pem"], in: folder, token: secret)
        XCTAssertEqual(withToken.status, 0, withToken.stdout + log())
        XCTAssertTrue(withToken.stdout.contains("generation 1 live"), withToken.stdout)
        // A client's certificate is not the operator's: without the token, refused.
        let asClient = try host.pyrpc(["deploy", "--tls-cert", "c1.pem", "--tls-key", "c1-key.pem"], in: folder)
        XCTAssertEqual(asClient.status, 1, asClient.stdout)
        XCTAssertTrue(asClient.stdout.contains("requires a deploy token"), asClient.stdout)
        XCTAssertTrue(log().contains("unauthorized deploy from the certificate of c1 from \(host.clientAddress) refused"), log())
        // The operator's certificate (init.yaml's top-level one) may deploy without it.
        let asOperator = try host.pyrpc(["deploy"], in: folder)
        XCTAssertEqual(asOperator.status, 0, asOperator.stdout + log())
        XCTAssertTrue(asOperator.stdout.contains("unchanged (already deployed)"), asOperator.stdout)

        // The operator sees everything; c1, by its certificate, its own service only.
        let everything = try host.pyrpc(["ls"], in: folder)
        XCTAssertTrue(everything.stdout.contains("calc.add") && everything.stdout.contains("ops.reset"), everything.stdout)
        let tenant = try host.pyrpc(["ls", "--as", "c1"], in: folder)
        XCTAssertEqual(tenant.status, 0, tenant.stdout)
        XCTAssertTrue(tenant.stdout.contains("calc.add") && !tenant.stdout.contains("ops.reset"), tenant.stdout)

        // c1 calls from an address it is not declared at: its certificate says who it is.
        let call = try host.pyrpc(["call", "calc", "add", "2", "3", "--as", "c1"], in: folder)
        XCTAssertEqual(call.status, 0, call.stdout + log())
        XCTAssertEqual(call.stdout, "5\n")
        XCTAssertFalse(log().contains(secret), "the token was logged")
    }
}
