/// Who is at the other end of a connection, as authorization knows them: the address (in
/// `HostAddresses.normalize` form) and, over TLS with client certificates, the names the
/// verified certificate carries (its subject CN, then its DNS SANs; none over plain TCP).
struct Peer: Sendable, CustomStringConvertible {
    let address: String
    let certificate: [String]

    init(address: String, certificate: [String] = []) {
        self.address = address
        self.certificate = certificate
    }

    /// The address: what logs and messages name.
    var description: String { address }

    /// "the certificate of c1 from 10.0.0.7", for messages about a certificate's holder.
    var withCertificate: String {
        certificate.first.map { "the certificate of \($0) from \(address)" } ?? address
    }
}
