import Foundation

/// Certificates made for a test with the `openssl` command: a CA, a server certificate for
/// 127.0.0.1, client certificates for c1 and c2, the operator's (admin), a client certificate
/// for c1 from another CA, and expired ones. Files `NAME.pem` and `NAME-key.pem` in `folder`.
enum TestCertificates {
    static func make(in folder: URL) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pyrpc test CA"], in: folder)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "other-ca-key.pem", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=another CA"], in: folder)
        try issue("s1", subjectAltName: "IP:127.0.0.1,DNS:localhost", in: folder)
        try issue("c1", subjectAltName: "DNS:c1", in: folder)
        try issue("c2", subjectAltName: "DNS:c2", in: folder)
        try issue("stranger", subjectAltName: "DNS:c1", by: "other-ca", in: folder)
        try issue("admin", subjectAltName: "DNS:admin", in: folder)
        try issue("expired-s1", subjectAltName: "IP:127.0.0.1", days: -1, in: folder)
        try issue("expired-c1", subjectAltName: "DNS:c1", days: -1, in: folder)
    }

    /// `name.pem` and `name-key.pem`, signed by `by` (`ca` or `other-ca`), subject CN `name`,
    /// valid for `days` (-1: expired yesterday).
    static func issue(_ name: String, subjectAltName: String, by ca: String = "ca", days: Int = 2, in folder: URL) throws {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "\(name)-key.pem", "-out", "\(name).csr", "-subj", "/CN=\(name)"], in: folder)
        try "subjectAltName=\(subjectAltName)\n".write(to: folder.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca)-key.pem", "-CAcreateserial",
                     "-out", "\(name).pem", "-days", "\(days)", "-extfile", "\(name).ext"], in: folder)
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
        guard process.terminationStatus == 0 else {
            throw RawSocket.Failure(description: "openssl \(arguments.joined(separator: " ")) failed")
        }
    }
}
