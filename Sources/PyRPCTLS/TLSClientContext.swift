import COpenSSL
import Synchronization

/// A client's TLS settings, made once: the CA that vouches for servers (the system's when
/// none is given), and the certificate and key the client presents, if any (mutual TLS).
/// It also keeps the last resumable session of each server, so that the next connection
/// skips the full handshake (TLS 1.3 tickets).
public final class TLSClientContext: Sendable {
    nonisolated(unsafe) let context: OpaquePointer  // OpenSSL contexts are safe to share once set up
    /// Resumable sessions by "host:port" (each holds one OpenSSL reference).
    private let sessions = Mutex<[String: Session]>([:])

    /// An OpenSSL session: reference-counted by OpenSSL, immutable once made.
    private struct Session: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// PEM text: `ca` may hold several certificates; `certificate` is the client's chain, its
    /// own first.
    public init(ca: [UInt8]?, certificate: [UInt8]?, key: [UInt8]?) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSError("cannot make a TLS context") }
        self.context = context
        _ = pyrpc_ssl_ctx_set_min_tls12(context)
        _ = SSL_CTX_set_options(context, pyrpc_ssl_server_options())
        guard SSL_CTX_set_cipher_list(context, TLSContext.ciphers) == 1 else { throw TLSError("cannot set the TLS 1.2 ciphers") }
        if let ca {
            let authorities = try PEM.certificates(ca, what: "the CA")
            defer { authorities.forEach { X509_free($0) } }
            let store = SSL_CTX_get_cert_store(context)
            for authority in authorities where X509_STORE_add_cert(store, authority) != 1 {
                throw TLSError("cannot trust the CA")
            }
        } else if SSL_CTX_set_default_verify_paths(context) != 1 {
            throw TLSError("cannot load the system's CA certificates")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        switch (certificate, key) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            let chain = try PEM.certificates(certificate, what: "the client certificate")
            defer { chain.forEach { X509_free($0) } }
            guard SSL_CTX_use_certificate(context, chain[0]) == 1 else { throw TLSError("cannot use the client certificate") }
            for link in chain.dropFirst() where pyrpc_ssl_ctx_add1_chain_cert(context, link) != 1 {
                throw TLSError("cannot use the client certificate's chain")
            }
            let privateKey = try PEM.privateKey(key, what: "the client key")
            defer { EVP_PKEY_free(privateKey) }
            guard X509_check_private_key(chain[0], privateKey) == 1 else { throw TLSError("the client key does not belong to the client certificate") }
            guard SSL_CTX_use_PrivateKey(context, privateKey) == 1 else { throw TLSError("cannot use the client key") }
        default:
            throw TLSError(plain: "a client certificate and its key go together")
        }
    }

    deinit {
        sessions.withLock { $0.values.forEach { SSL_SESSION_free($0.pointer) } }
        SSL_CTX_free(context)
    }

    /// The session to resume with `server`, with a reference of its own; nil: none kept.
    func session(for server: String) -> OpaquePointer? {
        let kept = sessions.withLock { sessions -> Session? in
            guard let session = sessions[server] else { return nil }
            _ = SSL_SESSION_up_ref(session.pointer)
            return session
        }
        return kept?.pointer
    }

    /// Keeps `session` (whose reference it takes over) for the next connection to `server`.
    func keep(_ session: OpaquePointer, for server: String) {
        let replaced = sessions.withLock { sessions in sessions.updateValue(Session(pointer: session), forKey: server) }
        if let replaced { SSL_SESSION_free(replaced.pointer) }
    }
}

/// Certificates and keys read from PEM text in memory.
enum PEM {
    static func certificates(_ text: [UInt8], what: String) throws(TLSError) -> [OpaquePointer] {
        let bio = text.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
        defer { BIO_free(bio) }
        var found: [OpaquePointer] = []
        while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { found.append(certificate) }
        ERR_clear_error()  // the end of the text reads as "no start line"
        guard !found.isEmpty else { throw TLSError(plain: "\(what) holds no PEM certificate") }
        return found
    }

    static func privateKey(_ text: [UInt8], what: String) throws(TLSError) -> OpaquePointer {
        let bio = text.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw TLSError("cannot read \(what) (PEM, unencrypted)") }
        return key
    }
}
