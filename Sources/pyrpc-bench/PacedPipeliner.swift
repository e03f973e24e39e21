import Foundation
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// A client of `who(n)` (answers `n * 10^7 + pid`) on one persistent connection: keeps up to
/// `window` requests in flight at `rate` calls a second, and checks each answer — its id, its
/// n, in order. A closed connection is a reconnect (counted, and the calls it owed failed);
/// a wrong or missing answer a failure. It learns which worker processes answered.
final class PacedPipeliner: @unchecked Sendable {
    private let lock = NSLock()
    private var answeredCount = 0
    private var failedCount = 0
    private var reconnectCount = 0
    private var workerPIDs: Set<Int> = []
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int, calls: Int, rate: Double, window: Int = 8) {
        Thread { [self] in
            run(port: port, calls: calls, rate: rate, window: window)
            finished.signal()
        }.start()
    }

    func wait() {
        finished.wait()
        finished.signal()
    }

    var answered: Int { lock.withLock { answeredCount } }
    var failed: Int { lock.withLock { failedCount } }
    var reconnects: Int { lock.withLock { reconnectCount } }
    var pids: Set<Int> { lock.withLock { workerPIDs } }

    private func run(port: Int, calls: Int, rate: Double, window: Int) {
        let start = Date()
        var next = 0  // the next request to send
        while next < calls {
            guard let socket = LineSocket(port: port) else {
                lock.withLock { reconnectCount += 1 }
                usleep(10_000)
                continue
            }
            var expected = next
            while expected < calls {
                // Paced: request n leaves no earlier than n / rate seconds after the start.
                while next < calls, next - expected < window {
                    let due = Double(next) / rate - Date().timeIntervalSince(start)
                    if due > 0, next > expected { break }
                    if due > 0 { usleep(UInt32(due * 1e6)) }
                    let request = RPCRequest(
                        client: "c1", service: "bench", rpc: "who", arguments: [.int(next)], argumentTypes: ["int"],
                        returnTypes: ["int"], id: .int(next)).encoded()
                    guard socket.send(request) else { break }
                    next += 1
                }
                guard let line = socket.readLine() else {
                    // Closed: what it owed is lost; the client reconnects and goes on.
                    lock.withLock {
                        failedCount += next - expected
                        reconnectCount += 1
                    }
                    break
                }
                let answer = try? JSONParser.parse(line)
                if answer?["value"]?["id"] == .int(expected), case .int(let value)? = answer?["value"]?["return-values"]?.arrayValue?.first,
                   value / 10_000_000 == expected {
                    lock.withLock {
                        answeredCount += 1
                        workerPIDs.insert(value % 10_000_000)
                    }
                } else {
                    lock.withLock { failedCount += 1 }
                }
                expected += 1
            }
            socket.close()
        }
    }
}

/// A blocking loopback TCP connection that reads lines (5 s receive timeout).
final class LineSocket {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connectToLoopback(fd, port: port) else {
            Glibc.close(fd)
            return nil
        }
    }

    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    func readLine() -> String? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                defer { buffer.removeSubrange(...newline) }
                return String(decoding: buffer[..<newline], as: UTF8.self)
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            buffer += chunk[..<count]
        }
    }

    func close() {
        Glibc.close(fd)
    }
}
