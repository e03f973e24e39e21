import Foundation

#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// systemd's end: a datagram socket bound to a path (in a temp folder) or an abstract name.
final class NotifyListener {
    let fd: Int32
    /// What a notifier is given: the path, or `@name`.
    let name: String
    private let folder: String?

    init(abstract: Bool) throws {
        if abstract {
            folder = nil
            name = "@pyrpc-test-\(UInt64.random(in: 0...UInt64.max))"
        } else {
            // mkdtemp under /tmp: $TMPDIR may be too long for sun_path's 108 bytes.
            var template = Array("/tmp/pyrpc-notify-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            folder = String(cString: made)
            name = folder! + "/notify"
        }
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        // Built here independently of `NotifySocket`: an abstract name is its bytes exactly,
        // so a notifier that sent sun_path's unused tail along would not reach it.
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = abstract ? [0] + Array(name.utf8.dropFirst()) : Array(name.utf8) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + path.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    /// The next datagram, or nil if none comes within `seconds`.
    func receive(within seconds: Double = 5) -> String? {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, Int32(seconds * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// The next `count` datagrams that are `message`, each with when it arrived; fewer if
    /// the deadline passes first.
    func arrivals(of message: String, count: Int, deadline seconds: Double = 5) -> [ContinuousClock.Instant] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var times: [ContinuousClock.Instant] = []
        while times.count < count, ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            guard let received = receive(within: Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18) else { break }
            if received == message { times.append(.now) }
        }
        return times
    }

    deinit {
        close(fd)
        if let folder {
            unlink(name)
            rmdir(folder)
        }
    }
}
