import Foundation
import PyRPCTLS

/// TLS for a client: the CA its servers' certificates must be signed by (the system's CAs
/// when none is given) and, for servers that require one (mutual TLS), the client's own
/// certificate and key. Each is PEM, from a file or from bytes. Made once and shared: it
/// keeps each server's last session, so reconnecting resumes instead of a full handshake.
///
/// ```swift
/// let tls = try TLSConfiguration(ca: .file("certs/ca.pem"), certificate: .file("certs/c1.pem"), key: .file("certs/c1-key.pem"))
/// let client = RPCClient(host: "10.0.0.5", port: 8443, client: "c1", tls: tls)
/// ```
public struct TLSConfiguration: Sendable {
    public enum PEM: Sendable, Equatable {
        case file(String)
        case bytes([UInt8])

        func read(_ what: String) throws(RPCClientError) -> [UInt8] {
            switch self {
            case .bytes(let bytes):
                return bytes
            case .file(let path):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw .configuration("cannot read \(what) \(path): no such file, or not readable")
                }
                return Array(data)
            }
        }
    }

    let context: TLSClientContext

    public init(ca: PEM? = nil, certificate: PEM? = nil, key: PEM? = nil) throws(RPCClientError) {
        guard (certificate == nil) == (key == nil) else {
            throw .configuration("a client certificate and its key go together (--tls-cert and --tls-key)")
        }
        let authority = try ca?.read("the CA certificate")
        let own = try certificate?.read("the client certificate")
        let privateKey = try key?.read("the client key")
        do {
            context = try TLSClientContext(ca: authority, certificate: own, key: privateKey)
        } catch {
            throw .configuration("TLS: \(error)")
        }
    }
}
