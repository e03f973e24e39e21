import Foundation

/// A server's certificate chain, private key and client CA as read from their PEM files at
/// one moment. A supervisor reads them at start and on SIGHUP and hands the bytes to every
/// worker it starts, so a worker recycled while the files are half-replaced (a new
/// certificate written, its key not yet) still starts with a matching pair.
public struct TLSMaterial: Sendable, Codable, Equatable {
    public var certificate: Data
    public var key: Data
    public var clientCA: Data?

    /// Reads the files (`TLSContext(material:)` checks that they go together).
    public static func read(certificate: String, key: String, clientCA: String?) throws(TLSError) -> TLSMaterial {
        func contents(_ path: String, _ what: String) throws(TLSError) -> Data {
            guard let data = FileManager.default.contents(atPath: path) else { throw TLSError(plain: "cannot read the \(what) \(path)") }
            return data
        }
        return TLSMaterial(
            certificate: try contents(certificate, "certificate"), key: try contents(key, "key"),
            clientCA: try clientCA.map { path throws(TLSError) in try contents(path, "client CA") })
    }
}
