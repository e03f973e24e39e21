import COpenSSL

/// A server's TLS settings made once from PEM files: its certificate chain and key, TLS 1.2
/// and 1.3 with forward-secret AEAD ciphers only, and, given a CA, client certificates it
/// requires and verifies (mutual TLS). Immutable: new settings (SIGHUP) are a new context,
/// and sessions already made keep theirs.
public final class TLSContext: @unchecked Sendable {  // OpenSSL contexts are safe to share once set up
    let context: OpaquePointer
    /// Client certificates are required and verified against this CA file.
    public let clientCA: String?

    /// TLS 1.2 suites a modern client offers (TLS 1.3's are all AEAD and forward secret).
    static let ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"

    public init(certificate: String, key: String, clientCA: String? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("cannot make a TLS context") }
        self.context = context
        self.clientCA = clientCA
        _ = pyrpc_ssl_ctx_set_min_tls12(context)
        _ = SSL_CTX_set_options(context, pyrpc_ssl_server_options())
        _ = pyrpc_ssl_ctx_set_mode(context, pyrpc_ssl_mode_nonblocking())
        guard SSL_CTX_set_cipher_list(context, Self.ciphers) == 1 else { throw TLSError("cannot set the TLS 1.2 ciphers") }
        guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else { throw TLSError("cannot load the certificate \(certificate)") }
        guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else { throw TLSError("cannot load the key \(key)") }
        guard SSL_CTX_check_private_key(context) == 1 else { throw TLSError("the key \(key) does not belong to the certificate \(certificate)") }
        if let clientCA {
            guard SSL_CTX_load_verify_locations(context, clientCA, nil) == 1 else { throw TLSError("cannot load the client CA \(clientCA)") }
            guard let names = SSL_load_client_CA_file(clientCA) else { throw TLSError("cannot read the client CA \(clientCA)") }
            SSL_CTX_set_client_CA_list(context, names)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        // Resumed sessions (TLS 1.3 tickets) keep their verified client: the context id says
        // which settings they belong to.
        let id: [UInt8] = Array("pyrpc".utf8)
        _ = SSL_CTX_set_session_id_context(context, id, UInt32(id.count))
    }

    deinit {
        SSL_CTX_free(context)
    }
}
