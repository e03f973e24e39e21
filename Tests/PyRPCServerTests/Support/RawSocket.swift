import Foundation

#if canImport(Glibc)
import Glibc
#endif
// Socket constants (SOCK_STREAM...): a clean build of this module finds them only through
// CLinux (Swift 6.3), since another file of it imports CLinux.
import CLinux

/// A plain blocking TCP socket for byte-exact protocol tests (partial writes, half-close,
/// reading to EOF). Reads time out after `timeout` seconds so a broken server fails the test.
final class RawSocket: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(host: String, port: Int, localAddress: String? = nil, timeout: Double = 10) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let first = info else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(info) }
        fd = Glibc.socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        // Fractions count (a zero timeval would mean "wait forever").
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        if let localAddress {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, localAddress, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw Failure(description: "bind \(localAddress) failed") }
        }
        guard Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect to \(host):\(port) failed: errno \(errno)")
        }
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += written
        }
    }

    /// Sends what fits without blocking; returns the bytes sent (0 when the socket is full).
    func sendWithoutWaiting(_ bytes: ArraySlice<UInt8>) throws -> Int {
        let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        if written < 0 {
            guard errno == EAGAIN else { throw Failure(description: "send failed: errno \(errno)") }
            return 0
        }
        return written
    }

    /// Half-closes: no more data from us; the server may still answer.
    func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads one line (without its newline). Throws on EOF or timeout before a newline.
    func readLine() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            guard try fill() > 0 else { throw Failure(description: "connection closed before a full line (have \(buffer.count) bytes)") }
        }
    }

    /// Exactly `count` bytes. Throws on EOF or timeout before them.
    func read(exactly count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() > 0 else { throw Failure(description: "connection closed after \(buffer.count) of \(count) bytes") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// Everything until the peer closes (or the timeout, which throws).
    func readToEnd() throws -> [UInt8] {
        while try fill() > 0 {}
        defer { buffer = [] }
        return buffer
    }

    /// True when the server closes the connection (EOF) with nothing more to read.
    func readsEOF() throws -> Bool {
        buffer.isEmpty ? try fill() == 0 : false
    }

    private func fill() throws -> Int {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 { throw Failure(description: "recv failed or timed out: errno \(errno)") }
        buffer.append(contentsOf: chunk[..<count])
        return count
    }

    func close() {
        Glibc.close(fd)
    }

    /// Closes with a reset (SO_LINGER 0): the server's next read fails at once, and it
    /// closes its side while a call may still be running.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
    }
}
