import COpenSSL
import Foundation

/// The names a certificate carries, as identities are matched: its subject CN, then its DNS
/// SANs.
public enum CertificateNames {
    /// The names of the first certificate in a PEM file (the operator's, from init.yaml).
    public static func ofFile(_ path: String) throws(TLSError) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TLSError(plain: "cannot read the certificate \(path)") }
        let certificates = try PEM.certificates(Array(data), what: path)
        defer { certificates.forEach { X509_free($0) } }
        return read { pyrpc_x509_names(certificates[0], $0, $1) }
    }

    /// What a shim function writes: names, each followed by a newline.
    static func read(_ write: (UnsafeMutablePointer<CChar>, Int32) -> Int32) -> [String] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = buffer.withUnsafeMutableBufferPointer { write($0.baseAddress!, Int32($0.count)) }
        guard length > 0 else { return [] }
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "\n").map(String.init)
    }
}
