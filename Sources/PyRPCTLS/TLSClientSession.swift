#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// One TLS connection as a client, over memory: the network's bytes go in with `receive`
/// and come out with `takeCiphertext`, so any event loop (NIO's, in the client library) can
/// carry them. Owned by one thread at a time.
public final class TLSClientSession {
    private let ssl: OpaquePointer
    private let network: OpaquePointer  // ciphertext from the server, for OpenSSL to read
    private let outgoing: OpaquePointer  // ciphertext OpenSSL wrote, for the server
    private let context: TLSClientContext
    private let server: String
    private var sessionKept = false
    /// Where `read` decrypts into: one record's plaintext at most, kept between reads.
    private var chunk = [UInt8](repeating: 0, count: 16384)

    /// What a step did.
    public enum Outcome: Equatable {
        /// Done for now (the handshake finished, or the plaintext was taken).
        case done
        /// It needs more bytes from the server.
        case wantRead
        /// The server ended the session (close_notify).
        case closed
        case failed(String)
    }

    /// `host` is the server as the client names it: its certificate must carry it (an IP SAN
    /// for an address, a DNS SAN for a name, which is also sent as SNI).
    public init(context: TLSClientContext, host: String, port: Int) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError("cannot make a TLS session") }
        self.ssl = ssl
        self.context = context
        server = "\(host):\(port)"
        network = BIO_new(BIO_s_mem())
        outgoing = BIO_new(BIO_s_mem())
        _ = pyrpc_bio_mem_empty_is_retry(network)
        _ = pyrpc_bio_mem_empty_is_retry(outgoing)
        SSL_set_bio(ssl, network, outgoing)  // the session owns both now
        SSL_set_connect_state(ssl)
        if Self.isAddress(host) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else { throw TLSError("cannot check the server's address \(host)") }
        } else {
            guard SSL_set1_host(ssl, host) == 1 else { throw TLSError("cannot check the server's name \(host)") }
            _ = pyrpc_ssl_set_host_name(ssl, host)
        }
        if let session = context.session(for: server) {
            _ = SSL_set_session(ssl, session)
            SSL_SESSION_free(session)
        }
    }

    deinit {
        SSL_free(ssl)
    }

    public var isEstablished: Bool { SSL_is_init_finished(ssl) == 1 }
    /// The handshake resumed an earlier session (no certificate exchange).
    public var isResumed: Bool { SSL_session_reused(ssl) == 1 }

    /// Bytes from the server.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        _ = BIO_write(network, bytes.baseAddress, Int32(bytes.count))
    }

    /// Bytes for the server, if any are waiting.
    public func takeCiphertext() -> [UInt8]? {
        let pending = Int(BIO_ctrl_pending(outgoing))
        guard pending > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: pending)
        let count = bytes.withUnsafeMutableBytes { BIO_read(outgoing, $0.baseAddress, Int32(pending)) }
        return Array(bytes.prefix(max(0, Int(count))))
    }

    /// Starts or goes on with the handshake.
    public func handshake() -> Outcome {
        let result = SSL_do_handshake(ssl)
        return result == 1 ? .done : outcome(of: result)
    }

    /// Reads the plaintext that arrived, handing it to `take` in chunks.
    public func read(_ take: (UnsafeRawBufferPointer) -> Void) -> Outcome {
        while true {
            var count = 0
            let result = chunk.withUnsafeMutableBytes { SSL_read_ex(ssl, $0.baseAddress, $0.count, &count) }
            guard result == 1 else {
                keepSession()
                return outcome(of: result)
            }
            chunk.withUnsafeBytes { take(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
        }
    }

    /// Encrypts plaintext (the memory takes all of it).
    public func write(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard !bytes.isEmpty else { return .done }
        var count = 0
        let result = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count)
        return result == 1 ? .done : outcome(of: result)
    }

    /// Says close_notify (to be sent with `takeCiphertext`).
    public func shutdown() {
        if isEstablished { _ = SSL_shutdown(ssl) }
        ERR_clear_error()
    }

    /// Why the server's certificate was refused, in OpenSSL's words; nil: it was not.
    private var verificationFailure: String? {
        let result = SSL_get_verify_result(ssl)
        guard result != X509_V_OK else { return nil }
        return String(cString: X509_verify_cert_error_string(result))
    }

    /// A TLS 1.3 server sends its tickets after the handshake: the session becomes resumable
    /// once they were read, which the first read of an answer has done.
    private func keepSession() {
        guard !sessionKept, isEstablished, let session = SSL_get1_session(ssl) else { return }
        guard SSL_SESSION_is_resumable(session) == 1 else { return SSL_SESSION_free(session) }
        sessionKept = true
        context.keep(session, for: server)
    }

    private func outcome(of result: Int32) -> Outcome {
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantRead
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            if let refused = verificationFailure {
                ERR_clear_error()
                return .failed("the server's certificate was refused: \(refused)")
            }
            return .failed(TLSError.drainErrors())
        }
    }

    private static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
