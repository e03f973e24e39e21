import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The address systemd gives a service in $NOTIFY_SOCKET, and the one way to reach it: a
/// datagram from a socket made for it, as sd_notify(3) sends it (no libsystemd to link).
struct NotifySocket: Sendable {
    private let address: sockaddr_un
    /// The bytes of `address` in use: sun_family and the name, not sun_path's unused tail.
    private let length: socklen_t

    /// An absolute path, or `@name` for an abstract socket (the `@` stands for the leading NUL
    /// of sun_path). nil for anything else — a relative path, systemd's `vsock:` form — or
    /// for a name longer than sun_path holds.
    init?(_ path: String) {
        let name = Array(path.utf8)
        guard name.count >= 2, !name.contains(0), name[0] == UInt8(ascii: "/") || name[0] == UInt8(ascii: "@") else { return nil }
        // An abstract name is exactly its bytes: a length that counted sun_path's unused tail
        // would name another socket (NULs are part of an abstract name). A path keeps its NUL.
        let sunPath = name[0] == UInt8(ascii: "@") ? [0] + name.dropFirst() : name + [0]
        var address = sockaddr_un()
        guard sunPath.count <= MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: sunPath) }
        self.address = address
        length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + sunPath.count)
    }

    /// Sends `message` as one datagram. Never waits: a systemd whose queue is full, or no one
    /// listening, drops it (false), and the server goes on as it would without systemd.
    @discardableResult
    func send(_ message: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: address) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        return sent == bytes.count
    }
}
