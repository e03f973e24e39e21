#if canImport(Glibc)
import Glibc
#endif
import CLinux
import PyRPCTLS

/// TLS on the loop's sockets (a server given a certificate speaks TLS only): the handshake
/// happens in the first reads, then reads and writes carry plaintext through the session. The
/// rest of the loop sees bytes and errno values as from a plain socket.
extension IOLoop {
    /// Starts the TLS session of a new connection; its handshake counts as a message, so it
    /// must end within --message-timeout. False: the connection was closed.
    func startTLS(on connection: Connection) -> Bool {
        guard let context = core.tls else { return true }
        do {
            connection.tls = try TLSStream(context: context, fd: connection.fd)
        } catch {
            core.logger.error("cannot start TLS with \(connection.peer): \(error)")
            close(connection)
            return false
        }
        connection.messageStarted = .now
        return true
    }

    /// Reads: the bytes read, 0 at the end of input, or -1 and an errno (EAGAIN: nothing now).
    func receive(_ connection: Connection, into space: UnsafeMutableRawBufferPointer) -> (count: Int, failure: Int32) {
        guard let tls = connection.tls else {
            let count = Glibc.read(connection.fd, space.baseAddress, space.count)
            return (count, count < 0 ? errno : 0)
        }
        let wasEstablished = tls.isEstablished
        let outcome = tls.read(into: space)
        if !wasEstablished, tls.isEstablished { established(connection, tls) }
        return translate(outcome, on: connection, handshaking: !wasEstablished)
    }

    /// Writes: the bytes written, or -1 and an errno (EAGAIN: the socket is full).
    func transmit(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) -> (count: Int, failure: Int32) {
        guard let tls = connection.tls else {
            let count = send(connection.fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            return (count, count < 0 ? errno : 0)
        }
        guard tls.isEstablished else { return (-1, EAGAIN) }  // nothing is answered before the handshake
        return translate(tls.write(bytes), on: connection, handshaking: false)
    }

    private func translate(_ outcome: TLSStream.Outcome, on connection: Connection, handshaking: Bool) -> (count: Int, failure: Int32) {
        switch outcome {
        case .bytes(let count):
            return (count, 0)
        case .wantRead:
            return (-1, EAGAIN)
        case .wantWrite:
            // The session must write before it can go on (a handshake message the socket did
            // not take): the next writable event reads again (`handle`).
            if !connection.wantsWritable {
                connection.wantsWritable = true
                updateInterest(connection)
            }
            return (-1, EAGAIN)
        case .closed:
            return (0, 0)
        case .truncated:
            return (-1, EPROTO)  // closed without answering a message cut short (no log: common)
        case .failed(let reason):
            if handshaking {
                // Plain text to the TLS port, an unknown CA, no client certificate: closed at
                // once, and said at most once a second.
                core.limits.refused(.tlsHandshake, "TLS handshakes from \(connection.peer) that failed (\(reason))")
            } else {
                core.logger.info("TLS connection from \(connection.peer) failed: \(reason)")
            }
            return (-1, EPROTO)
        }
    }

    private func established(_ connection: Connection, _ tls: TLSStream) {
        connection.messageStarted = nil
        connection.certificate = tls.peerNames
        if core.logsDebug {
            let names = connection.certificate
            core.logger.debug("TLS (\(tls.version)) with \(connection.peer)\(names.isEmpty ? "" : ", certificate of \(names.joined(separator: ", "))")")
        }
    }
}
