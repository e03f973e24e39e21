#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// One TLS connection on a non-blocking socket, as a server: the handshake happens inside the
/// first reads, then reads and writes carry plaintext. Owned by one thread (its I/O loop).
public final class TLSStream {
    private let ssl: OpaquePointer

    /// What a read or write did.
    public enum Outcome: Equatable {
        case bytes(Int)
        /// Nothing now: wait until the socket is readable (or, `wantWrite`, writable).
        case wantRead
        case wantWrite
        /// The peer ended the session (close_notify) or the connection.
        case closed
        /// The connection ended without close_notify, as many clients end it: what arrived
        /// last may be cut short, so nothing unfinished may be taken as a whole message.
        case truncated
        case failed(String)
    }

    public init(context: TLSContext, fd: Int32) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError("cannot make a TLS session") }
        self.ssl = ssl
        guard SSL_set_fd(ssl, fd) == 1 else { throw TLSError("cannot attach a TLS session to its socket") }
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)
    }

    /// Bytes the session read from the socket and has not handed out yet (it reads ahead):
    /// the socket may have nothing more to say, so the reader must not wait for it.
    public var hasPending: Bool { SSL_has_pending(ssl) == 1 }

    /// The handshake is over: what is read now is the client's.
    public var isEstablished: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Reads plaintext (advancing the handshake first, as long as it lasts).
    public func read(into space: UnsafeMutableRawBufferPointer) -> Outcome {
        var count = 0
        let result = SSL_read_ex(ssl, space.baseAddress, space.count, &count)
        return result == 1 ? .bytes(count) : outcome(of: result)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var count = 0
        let result = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count)
        return result == 1 ? .bytes(count) : outcome(of: result)
    }

    /// Says close_notify if the socket takes it now; never waits for the peer's.
    public func shutdown() {
        if isEstablished { _ = SSL_shutdown(ssl) }
        ERR_clear_error()
    }

    /// The names of the peer's verified certificate: its subject CN, then its DNS SANs.
    /// Empty when it presented none.
    public var peerNames: [String] {
        guard SSL_get_verify_result(ssl) == X509_V_OK else { return [] }
        return CertificateNames.read { pyrpc_ssl_peer_names(ssl, $0, $1) }
    }

    /// The negotiated protocol, e.g. "TLSv1.3".
    public var version: String { String(cString: SSL_get_version(ssl)) }

    private func outcome(of result: Int32) -> Outcome {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_SYSCALL:
            let reason = TLSError.drainErrors()
            // A peer that hangs up without close_notify: an end, not an attack.
            return errno == 0 || errno == ECONNRESET || errno == EPIPE ? .closed : .failed(reason == "no reason given" ? String(cString: strerror(errno)) : reason)
        case SSL_ERROR_SSL where ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING:
            ERR_clear_error()
            return .truncated
        default:
            let reason = TLSError.drainErrors()
            // A client certificate the CA check refused: say which check (expired, unknown CA...).
            let verification = SSL_get_verify_result(ssl)
            guard verification != X509_V_OK else { return .failed(reason) }
            return .failed("\(reason): the client's certificate was refused: \(String(cString: X509_verify_cert_error_string(verification)))")
        }
    }
}
