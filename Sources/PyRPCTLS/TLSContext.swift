import COpenSSL

/// A server's TLS settings made once from PEM files: its certificate chain and key, TLS 1.2
/// and 1.3 with forward-secret AEAD ciphers only, and, given a CA, client certificates it
/// requires and verifies (mutual TLS). Immutable: new settings (SIGHUP) are a new context,
/// and sessions already made keep theirs.
public final class TLSContext: @unchecked Sendable {  // OpenSSL contexts are safe to share once set up
    let context: OpaquePointer
    /// Client certificates are required and verified against a CA.
    public let requiresClientCertificates: Bool

    /// TLS 1.2 suites a modern client offers (TLS 1.3's are all AEAD and forward secret).
    static let ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"

    public init(material: TLSMaterial, ticketKeys: [UInt8]? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("cannot make a TLS context") }
        self.context = context
        requiresClientCertificates = material.clientCA != nil
        _ = pyrpc_ssl_ctx_set_min_tls12(context)
        _ = SSL_CTX_set_options(context, pyrpc_ssl_server_options())
        _ = pyrpc_ssl_ctx_set_mode(context, pyrpc_ssl_mode_nonblocking())
        pyrpc_ssl_ctx_tune_server(context)
        // One ticket per handshake: a client resumes with one, and each costs an encryption.
        _ = SSL_CTX_set_num_tickets(context, 1)
        guard SSL_CTX_set_cipher_list(context, Self.ciphers) == 1 else { throw TLSError("cannot set the TLS 1.2 ciphers") }
        let chain = try PEM.certificates(Array(material.certificate), what: "the certificate")
        defer { chain.forEach { X509_free($0) } }
        guard SSL_CTX_use_certificate(context, chain[0]) == 1 else { throw TLSError("cannot use the certificate") }
        for link in chain.dropFirst() where pyrpc_ssl_ctx_add1_chain_cert(context, link) != 1 {
            throw TLSError("cannot use the certificate's chain")
        }
        let key = try PEM.privateKey(Array(material.key), what: "the key")
        defer { EVP_PKEY_free(key) }
        guard X509_check_private_key(chain[0], key) == 1 else { throw TLSError("the key does not belong to the certificate") }
        guard SSL_CTX_use_PrivateKey(context, key) == 1 else { throw TLSError("cannot use the key") }
        if let clientCA = material.clientCA {
            let authorities = try PEM.certificates(Array(clientCA), what: "the client CA")
            defer { authorities.forEach { X509_free($0) } }
            let store = SSL_CTX_get_cert_store(context)
            for authority in authorities {
                guard X509_STORE_add_cert(store, authority) == 1, SSL_CTX_add_client_CA(context, authority) == 1 else {
                    throw TLSError("cannot trust the client CA")
                }
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        // Resumed sessions (TLS 1.3 tickets) keep their verified client: the context id says
        // which settings they belong to.
        let id: [UInt8] = Array("pyrpc".utf8)
        _ = SSL_CTX_set_session_id_context(context, id, UInt32(id.count))
        if var ticketKeys {
            guard ticketKeys.count == 80, pyrpc_ssl_ctx_set_ticket_keys(context, &ticketKeys, 80) == 1 else {
                throw TLSError("cannot set the session ticket keys")
            }
        }
    }

    deinit {
        SSL_CTX_free(context)
    }
}
