import Foundation
import PyRPCTLS

/// pyrpc over TLS and gRPC-Python (plaintext and TLS): the add and total workloads again, in
/// the same run and the same turns as the plaintext rows, so that their ratios hold.
extension BenchSuite {
    static let oneShotFullHandshake = "add one-shot c=8 TLS full handshake"
    static let oneShotResumed = "add one-shot c=8 TLS resumed"
    /// The workloads with a "pyrpc TLS" row.
    static let tlsWorkloads = ["add persistent c=8", oneShotFullHandshake, oneShotResumed, "total(List[float]) 100,000 floats"]
    /// The workloads with gRPC-Python rows ("gRPC-Python TLS" in the TLS one-shot one).
    static let grpcWorkloads = ["add persistent c=8", "add one-shot c=8", oneShotFullHandshake, "total(List[float]) 100,000 floats"]

    /// The bench's CA and server certificate, made on first use.
    func tlsCertificates() throws -> BenchCertificates {
        if let certificates { return certificates }
        let made = try BenchCertificates.make(in: folder)
        certificates = made
        return made
    }

    /// pyrpc speaking TLS ("pyrpc TLS"), serving what the plaintext server `label` had deployed:
    /// it starts on a copy of that server's state folder and restores it, as `pyrpc serve`
    /// does, so both serve the very same scripts and the bench needs no deploy over TLS.
    /// Nil, with a note, when it cannot start (no `openssl` command): the plaintext rows stand.
    func startPyRPCOverTLS(from label: String) -> ServerUnderTest? {
        do {
            let certificates = try tlsCertificates()
            let state = folder.appendingPathComponent("state-\(label)-tls")
            try FileManager.default.copyItem(at: folder.appendingPathComponent("state-\(label)"), to: state)
            let port = freePort()
            let server = try ServerUnderTest.launch(
                name: "pyrpc TLS", port: port,
                command: [CommandLine.arguments[0], "serve-child", "--port", "\(port)", "--state-dir", state.path,
                          "--tls-cert", certificates.certificate.path, "--tls-key", certificates.key.path],
                log: folder.appendingPathComponent("\(label)-tls.log"))
            servers.append(server)
            server.tlsCA = certificates.caBytes
            return server
        } catch {
            say("skipping pyrpc over TLS: \(error)")
            report.notes.append("pyrpc over TLS did not run on this machine: \(error)")
            return nil
        }
    }

    /// gRPC-Python plaintext and over TLS; nil (with a note) for what cannot run here.
    func startGRPC() -> (ServerUnderTest?, ServerUnderTest?) {
        guard let setup = comparison("gRPC-Python comparison", {
            try GRPCComparison.prepare(benchmarks: benchmarksFolder, log: folder.appendingPathComponent("grpc-setup.log"))
        }) else { return (nil, nil) }
        let services = benchmarksFolder.appendingPathComponent("services")
        let plaintext = comparison("gRPC-Python server") {
            try setup.startServer(name: "gRPC-Python", services: services, certificates: nil, log: folder.appendingPathComponent("grpc.log"))
        }
        let tls = comparison("gRPC-Python TLS server") {
            try setup.startServer(name: "gRPC-Python TLS", services: services, certificates: try tlsCertificates(),
                                  log: folder.appendingPathComponent("grpc-tls.log"))
        }
        servers += [plaintext, tls].compactMap { $0 }
        report.notes.append(
            "gRPC-Python is grpcio \(setup.grpcVersion) (benchmarks/grpc/server.py: 8 threads, binary messages, the same add.py and total.py). "
            + "Its load comes from benchmarks/grpc/client.py, Python threads on the load generator's core, whose own cost bounds its calls/s and latencies; "
            + "its server CPU per call is read from /proc like every other server's. One-shot gRPC calls open a new channel (and TCP connection) each, "
            + "without a TLS session cache: full handshakes.")
        return (plaintext, tls)
    }
}

/// How a workload's TLS clients connect.
enum TLSHandshakes {
    /// One client context for a sample's warm-up and run: every connection after the first
    /// resumes the session the last one kept (TLS 1.3 tickets).
    case resumed
    /// A new client context for each connection: every handshake is a full one.
    case full

    func load(ca: [UInt8]) -> LoadGenerator.TLS {
        switch self {
        case .resumed:
            // A CA that cannot be read fails every connection, as a fresh context per connection would.
            guard let context = try? TLSClientContext(ca: ca, certificate: nil, key: nil) else { return .fullHandshakes(ca: ca) }
            return .resuming(context)
        case .full:
            return .fullHandshakes(ca: ca)
        }
    }
}
