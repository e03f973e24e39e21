import Foundation
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// A client that keeps up to `window` requests in flight on one connection, for as long as
/// it is told, and checks every answer: exactly one per request, in order (the id is the
/// request's number), each the right one. `svc.who(n)` answers `n * 10^7 + pid`, so it also
/// learns which worker processes answered. It never reconnects: a closed connection is a failure.
final class PipeliningClient: @unchecked Sendable {
    private let lock = NSLock()
    private var answered = 0
    private var workerPIDs: Set<Int> = []
    private var failure: String?
    private let calls: Int
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    static let whoScript = "import os\n\ndef who(n):\n    return n * 10000000 + os.getpid()\n"

    /// Starts calling at once; `calls`: how many (nil: until `stop`). `splitting`: requests
    /// are sent in pieces cut at random places, with pauses up to a millisecond between them,
    /// so that a worker may leave while it holds part of a request (seeded: reproducible).
    init(port: Int, window: Int = 16, calls: Int? = nil, splitting seed: UInt64? = nil) throws {
        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: 20)
        self.calls = calls ?? .max
        let thread = Thread { [self] in
            defer { socket.close(); finished.signal() }
            run(socket, window: window, splitting: seed.map { SplitMix(seed: $0) })
        }
        thread.start()
    }

    private func run(_ socket: RawSocket, window: Int, splitting: SplitMix?) {
        var random = splitting
        var sent = 0
        var received = 0
        while true {
            // Told to stop: no more requests, but every answer to those sent.
            let limit = lock.withLock { stopping } ? sent : calls
            if received >= limit { return }
            var batch = ""
            while sent < limit, sent - received < window {
                batch += requestLine(service: "svc", rpc: "who", arguments: [.int(sent)], types: ["int"], returns: ["int"], id: .int(sent)) + "\n"
                sent += 1
            }
            do {
                if !batch.isEmpty {
                    if random != nil {
                        try send(Array(batch.utf8), on: socket, cutBy: &random!)
                    } else {
                        try socket.send(batch)
                    }
                }
                let line = try socket.readLine()
                let answer = try JSONParser.parse(line)
                guard answer["value"]?["id"] == .int(received), case .int(let value)? = answer.returnValues?.first, value / 10_000_000 == received else {
                    return fail("answer \(received) is wrong: \(line.prefix(300))")
                }
                lock.withLock {
                    answered += 1
                    workerPIDs.insert(value % 10_000_000)
                }
                received += 1
            } catch {
                return fail("after \(received) answers: \(error)")
            }
        }
    }

    private func send(_ bytes: [UInt8], on socket: RawSocket, cutBy random: inout SplitMix) throws {
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, 1 + Int(random.next() % 200))
            try socket.send(Array(bytes[offset..<offset + piece]))
            offset += piece
            usleep(UInt32(random.next() % 1000))
        }
    }

    private func fail(_ reason: String) {
        lock.withLock { failure = reason }
    }

    /// Finishes the requests in flight and stops; returns the failure, if any.
    @discardableResult
    func stop(timeout: Double = 30) -> String? {
        lock.withLock { stopping = true }
        return wait(timeout: timeout)
    }

    /// Waits for the calls to end; returns the failure, if any.
    func wait(timeout: Double = 60) -> String? {
        if finished.wait(timeout: .now() + timeout) == .timedOut { return "still calling after \(timeout) s (\(count) answers)" }
        finished.signal()
        return lock.withLock { failure }
    }

    var count: Int { lock.withLock { answered } }
    var pids: Set<Int> { lock.withLock { workerPIDs } }
    var failed: String? { lock.withLock { failure } }
}

/// A small seeded generator (SplitMix64), for reproducible random tests.
struct SplitMix {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
