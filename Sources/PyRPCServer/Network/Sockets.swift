#if canImport(Glibc)
import Glibc
#endif
import CLinux
import NIOCore

/// A socket call that failed, with what the user can do about it in `description`.
public struct SocketError: Error, CustomStringConvertible {
    public let description: String
    /// The `errno` of the call.
    public let code: Int32

    init(_ what: String, errno code: Int32) {
        description = "\(what): \(String(cString: strerror(code)))"
        self.code = code
    }

    /// Another socket listens on the port (a server still running, or one still stopping).
    public var isAddressInUse: Bool { code == EADDRINUSE }
}

/// The few socket calls the server makes, on plain file descriptors.
enum Sockets {
    /// A non-blocking listening socket on `host:port` (port 0 picks a free one), with
    /// TCP_NODELAY set so that every accepted socket inherits it, and its bound address.
    static func listen(host: String, port: Int, backlog: Int32 = 512) throws -> (fd: Int32, address: SocketAddress) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw SocketError("cannot resolve \(host)", errno: status == EAI_SYSTEM ? errno : EINVAL)
        }
        defer { freeaddrinfo(list) }
        var lastError = EADDRNOTAVAIL
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = pyrpc_fd_above_stdio(socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
            if fd >= 0 { pyrpc_fd_mark(fd) }
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            setFlag(fd, SOL_SOCKET, SO_REUSEADDR)
            setFlag(fd, Int32(IPPROTO_TCP), TCP_NODELAY)
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, Glibc.listen(fd, backlog) == 0 else {
                lastError = errno
                pyrpc_fd_unmark(fd)
                close(fd)
                continue
            }
            guard let address = localAddress(of: fd) else {
                lastError = errno
                pyrpc_fd_unmark(fd)
                close(fd)
                continue
            }
            return (fd, address)
        }
        throw SocketError("cannot listen on \(host):\(port)", errno: lastError)
    }

    static func setFlag(_ fd: Int32, _ level: Int32, _ option: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, level, option, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func localAddress(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0, let (ip, port, _) = describe(storage) else { return nil }
        return try? SocketAddress(ipAddress: ip, port: port)
    }

    /// `127.0.0.1:8181`, `[::1]:8181`.
    static func endpoint(_ ip: String, _ port: Int, isIPv6: Bool) -> String {
        isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// The IP address and port in `storage` (an accepted peer), as text; nil for other families.
    static func describe(_ storage: sockaddr_storage) -> (ip: String, port: Int, isIPv6: Bool)? {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return withUnsafePointer(to: &storage) { pointer -> (String, Int, Bool)? in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    guard inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil else { return nil }
                    return (Self.string(text), Int(UInt16(bigEndian: address.pointee.sin_port)), false)
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    guard inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil else { return nil }
                    return (Self.string(text), Int(UInt16(bigEndian: address.pointee.sin6_port)), true)
                }
            default:
                return nil
            }
        }
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
