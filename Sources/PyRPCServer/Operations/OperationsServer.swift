import CLinux
import Foundation
import Logging
import NIOCore
import PyRPCWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// pyrpc's operations port (`--metrics-listen`): plain HTTP/1.1, GET and HEAD, for load
/// balancers, service managers and Prometheus. `/livez` answers while the process runs;
/// `/readyz` says whether it should get new calls; `/metrics` has the server's numbers. Served by the supervisor's own threads, never a worker's,
/// so it answers while every worker is busy, stuck or crash-looping. Bounded like the RPC
/// port: a few connections at once, a small request head, a few seconds to send it.
public final class OperationsServer: Sendable {
    /// Connections served at once; more are closed at once (health checks are short).
    static let maxConnections = 32
    /// A request head larger than this is answered 431.
    static let maxHeadBytes = 8192
    /// Seconds a client has to send its request head, and to take the answer.
    static let timeout = 5

    public let address: SocketAddress
    private let listener: Int32
    /// Why the server should get no new calls now; nil: it should.
    private let unreadiness: @Sendable () -> String?
    /// The Prometheus text of `/metrics`.
    private let metrics: @Sendable () -> [UInt8]
    private let logger: Logger
    private let open = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    public init(
        host: String, port: Int, unreadiness: @escaping @Sendable () -> String?, metrics: @escaping @Sendable () -> [UInt8],
        logger: Logger
    ) throws {
        (listener, address) = try Sockets.listen(host: host, port: port, backlog: 64)
        self.unreadiness = unreadiness
        self.metrics = metrics
        self.logger = logger
    }

    /// Serves on a thread of its own until `stop`.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "pyrpc-operations"
        thread.start()
        logger.info("operations port on http://\(PyRPCServer.describe(address)): /livez, /readyz, /metrics")
    }

    public func stop() {
        stopped.store(true, ordering: .releasing)
    }

    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func acceptLoop() {
        defer { close(listener) }
        var poll = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopped.load(ordering: .acquiring) {
            // A quarter second at most between looks at `stopped`.
            guard Glibc.poll(&poll, 1, 250) > 0 else { continue }
            let fd = accept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            guard fd >= 0 else { continue }
            guard open.add(1, ordering: .relaxed).newValue <= Self.maxConnections else {
                open.subtract(1, ordering: .relaxed)
                close(fd)
                continue
            }
            let thread = Thread { [self] in
                serve(fd)
                close(fd)
                open.subtract(1, ordering: .relaxed)
            }
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        respond(on: fd)
        lingeringClose(fd)
    }

    /// Says the answer is complete, then reads what the client may still be sending (a head
    /// too large, a body) for a moment, so that closing does not reset the connection and
    /// destroy the answer before the client reads it (RFC 9112 §9.6).
    private func lingeringClose(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var discard = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while total < 1 << 16 {
            let count = discard.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            total += count
        }
    }

    /// Reads one request head and answers it.
    private func respond(on fd: Int32) {
        var timeout = timeval(tv_sec: Self.timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = ContinuousClock.now + .seconds(Self.timeout)
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while true {
            let outcome = head.withUnsafeBytes { HTTPRequestHead.parse($0) }
            switch outcome {
            case .complete(let request, _):
                return send(answer(to: request), to: fd, body: request.method != "HEAD")
            case .invalid(let reason):
                return send(.init(status: 400, body: "bad request: \(reason)\n"), to: fd)
            case .incomplete:
                guard head.count < Self.maxHeadBytes else { return send(.init(status: 431, body: "request head over \(Self.maxHeadBytes) bytes\n"), to: fd) }
                guard ContinuousClock.now < deadline else { return send(.init(status: 408, body: "the request head took over \(Self.timeout) s\n"), to: fd) }
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, Self.maxHeadBytes - head.count), 0) }
                guard count > 0 else { return }
                head += chunk[..<count]
            }
        }
    }

    struct Response {
        var status: Int
        var body: [UInt8]
        var headers: [(String, String)] = []
        var contentType = "text/plain; charset=utf-8"

        init(status: Int, body: String, headers: [(String, String)] = []) {
            self.status = status
            self.body = Array(body.utf8)
            self.headers = headers
        }

        init(status: Int, bytes: [UInt8], contentType: String) {
            self.status = status
            body = bytes
            self.contentType = contentType
        }
    }

    func answer(to request: HTTPRequestHead) -> Response {
        guard request.method == "GET" || request.method == "HEAD" else {
            return Response(status: 405, body: "this port answers GET and HEAD\n", headers: [("Allow", "GET, HEAD")])
        }
        switch request.path {
        case "/livez":
            return Response(status: 200, body: "alive\n")
        case "/readyz":
            if let reason = unreadiness() { return Response(status: 503, body: "not ready: \(reason)\n") }
            return Response(status: 200, body: "ready\n")
        case "/metrics":
            return Response(status: 200, bytes: metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        default:
            return Response(status: 404, body: "no \(request.path) here: this port serves /livez, /readyz and /metrics\n")
        }
    }

    private func send(_ response: Response, to fd: Int32, body: Bool = true) {
        let reasons = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
                       431: "Request Header Fields Too Large", 503: "Service Unavailable"]
        let content = response.body
        var text = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Error")\r\n"
        text += "Content-Type: \(response.contentType)\r\nContent-Length: \(content.count)\r\nCache-Control: no-store\r\nConnection: close\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var bytes = Array(text.utf8)
        if body { bytes += content }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return }
            offset += written
        }
    }
}
