import Foundation

/// One HTTP/1.1 request on a fresh connection, read to the end: how a load balancer's health
/// check or a scraper asks the operations port.
struct HTTPGet {
    let status: Int
    let head: String
    let body: String

    /// `GET path`, or any raw request text given as `request`.
    static func fetch(port: Int, path: String = "/", request: String? = nil, timeout: Double = 10) throws -> HTTPGet {
        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: timeout)
        defer { socket.close() }
        try socket.send(request ?? "GET \(path) HTTP/1.1\r\nHost: pyrpc\r\nUser-Agent: test\r\n\r\n")
        let bytes = try socket.readToEnd()
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        let end = (0...max(0, bytes.count - separator.count)).first { bytes[$0...].starts(with: separator) } ?? bytes.count
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let body = String(decoding: bytes[min(bytes.count, end + separator.count)...], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return HTTPGet(status: status, head: head, body: body)
    }
}
