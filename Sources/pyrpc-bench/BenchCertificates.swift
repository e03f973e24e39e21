import Foundation

/// The certificates the TLS servers of a run answer with, made with the `openssl` command in
/// the bench's temporary folder: an EC P-256 CA and a server certificate for 127.0.0.1 signed
/// by it (what the servers' clients verify: an IP SAN, as for a real address).
struct BenchCertificates {
    let ca: URL
    let certificate: URL
    let key: URL

    /// The CA's PEM text, for the clients' TLS contexts.
    var caBytes: [UInt8] { (try? [UInt8](Data(contentsOf: ca))) ?? [] }

    static func make(in folder: URL) throws -> BenchCertificates {
        let folder = folder.appendingPathComponent("tls")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pyrpc bench CA"], in: folder)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=pyrpc bench server"], in: folder)
        try "subjectAltName=IP:127.0.0.1\n".write(to: folder.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                     "-out", "server.pem", "-days", "2", "-extfile", "server.ext"], in: folder)
        return BenchCertificates(
            ca: folder.appendingPathComponent("ca.pem"), certificate: folder.appendingPathComponent("server.pem"),
            key: folder.appendingPathComponent("server-key.pem"))
    }

    private static func openssl(_ arguments: [String], in folder: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("openssl \(arguments.joined(separator: " ")) failed") }
    }
}
