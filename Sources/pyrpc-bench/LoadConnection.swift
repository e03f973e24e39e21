import Foundation
import PyRPCTLS

#if canImport(Glibc)
import Glibc
#endif

/// One blocking connection of the load generator, plaintext or TLS. Over TLS the session
/// works on memory (`TLSClientSession`) and this class carries its ciphertext over the
/// socket, with the same send and recv calls the plaintext connection makes.
final class LoadConnection {
    let fd: Int32
    /// Plaintext that arrived after the last answer's newline.
    private var pending: [UInt8] = []
    private let tls: TLSClientSession?
    private var saidCloseNotify = false

    /// Whether the TLS handshake resumed an earlier session (false in plaintext).
    var isResumed: Bool { tls?.isResumed ?? false }

    /// Connects (and, with `tls`, completes the handshake); nil when either fails.
    init?(port: Int, tls context: TLSClientContext?) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        tls = context.flatMap { try? TLSClientSession(context: $0, host: "127.0.0.1", port: port) }
        guard connectToLoopback(fd, port: port), context == nil || handshake() else {
            Glibc.close(fd)
            return nil
        }
    }

    func send(_ bytes: [UInt8]) -> Bool {
        guard let tls else { return sendRaw(bytes) }
        guard bytes.withUnsafeBytes({ tls.write($0) }) == .done else { return false }
        return flush()
    }

    /// One-shot: nothing more will be asked. Over TLS, close_notify goes first, then the
    /// half-close either way, so that the server answers and closes.
    func finishSending() {
        sayCloseNotify()
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads up to and including the next newline (the answer may be megabytes).
    func readLine(into answer: inout [UInt8], scratch: inout [UInt8]) -> Bool {
        answer = pending
        pending = []
        var searchFrom = 0
        while true {
            if let newline = answer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                pending = Array(answer[(newline + 1)...])
                answer.removeSubrange(newline...)
                return true
            }
            searchFrom = answer.count
            guard receive(into: &answer, scratch: &scratch) else { return false }
        }
    }

    /// Reads one MessagePack frame (its 4-byte length, then that many bytes) into `answer`.
    func readFrame(into answer: inout [UInt8], scratch: inout [UInt8]) -> Bool {
        answer = pending
        pending = []
        while answer.count < 4 {
            guard receive(into: &answer, scratch: &scratch) else { return false }
        }
        let length = answer[0..<4].reduce(0) { $0 << 8 | Int($1) }
        while answer.count < 4 + length {
            guard receive(into: &answer, scratch: &scratch) else { return false }
        }
        pending = Array(answer[(4 + length)...])
        answer.removeSubrange((4 + length)...)
        return true
    }

    /// Reads until the server closes. A TLS server ends with close_notify after the answer:
    /// closing before it arrived would leave it unread and make the kernel reset the
    /// connection instead of closing it, which the plaintext one-shot never does.
    func drainUntilClosed(scratch: inout [UInt8]) {
        while scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }

    /// Over TLS, with close_notify first: OpenSSL marks the session of a connection dropped
    /// without it as not resumable, and that is the session the next connection would resume.
    func close() {
        sayCloseNotify()
        Glibc.close(fd)
    }

    private func sayCloseNotify() {
        guard let tls, !saidCloseNotify else { return }
        saidCloseNotify = true
        tls.shutdown()
        _ = flush()
    }

    // MARK: Bytes on the socket

    /// Appends the next plaintext that arrives to `answer`; false when the connection ended.
    private func receive(into answer: inout [UInt8], scratch: inout [UInt8]) -> Bool {
        guard let tls else {
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return false }
            answer.append(contentsOf: scratch[0..<count])
            return true
        }
        while true {
            let before = answer.count
            let outcome = tls.read { answer.append(contentsOf: $0) }
            if answer.count > before { return true }
            guard outcome == .wantRead, receiveCiphertext(scratch: &scratch) else { return false }
        }
    }

    /// Completes the TLS handshake: its messages go out as the session makes them, and the
    /// server's are fed in until the session is established.
    private func handshake() -> Bool {
        guard let tls else { return false }
        var scratch = [UInt8](repeating: 0, count: 1 << 14)
        while true {
            let outcome = tls.handshake()
            guard flush() else { return false }
            switch outcome {
            case .done: return true
            case .wantRead: guard receiveCiphertext(scratch: &scratch) else { return false }
            case .closed, .failed: return false
            }
        }
    }

    /// One recv's worth of ciphertext into the session.
    private func receiveCiphertext(scratch: inout [UInt8]) -> Bool {
        guard let tls else { return false }
        let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return false }
        scratch.withUnsafeBytes { tls.receive(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
        return true
    }

    /// Sends what the session wrote.
    private func flush() -> Bool {
        while let ciphertext = tls?.takeCiphertext() {
            guard sendRaw(ciphertext) else { return false }
        }
        return true
    }

    private func sendRaw(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}
