import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a load run measured on the client side.
struct LoadResult {
    var calls = 0
    var failures = 0
    var seconds = 0.0
    /// Per-call latencies in seconds.
    var latencies: [Double] = []
    var firstAnswer = ""

    var callsPerSecond: Double { seconds > 0 ? Double(calls) / seconds : 0 }

    /// Adds another run of the same load (its time, calls and latencies).
    mutating func add(_ other: LoadResult) {
        calls += other.calls
        failures += other.failures
        seconds += other.seconds
        latencies += other.latencies
        if firstAnswer.isEmpty { firstAnswer = other.firstAnswer }
    }

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int(p * Double(sorted.count)))]
    }
}

/// A small closed-loop load generator: `concurrency` threads, each with its own blocking
/// socket, each keeping exactly one request outstanding. Blocking sockets on dedicated
/// threads cost a few syscalls per call and nothing else, so the generator stays cheap.
enum LoadGenerator {
    enum Mode {
        /// One connection per thread, reused for every call.
        case persistent
        /// Connect, send, half-close, read the answer, close — for every call.
        case oneShot
    }

    /// Runs until `duration` seconds pass or `calls` calls are done (whichever is given).
    static func run(port: Int, request: [UInt8], mode: Mode, concurrency: Int, duration: Double? = nil, calls: Int? = nil) -> LoadResult {
        let deadline = duration.map { Date().addingTimeInterval($0) }
        let budget = Budget(calls ?? Int.max)
        let results = ResultSlots(count: concurrency)
        let group = DispatchGroup()
        let started = Date()
        for index in 0..<concurrency {
            group.enter()
            let thread = Thread {
                results.set(index, worker(port: port, request: request, mode: mode, deadline: deadline, budget: budget))
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        var total = LoadResult()
        total.seconds = Date().timeIntervalSince(started)
        // The workers ran side by side: their results carry no time of their own.
        for result in results.all { total.add(result) }
        return total
    }

    private static func worker(port: Int, request: [UInt8], mode: Mode, deadline: Date?, budget: Budget) -> LoadResult {
        var result = LoadResult()
        result.latencies.reserveCapacity(1 << 16)
        var connection: Connection?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while budget.take() {
            // Every call: threads checking only now and then stop up to that many calls apart,
            // and the last ones alone leave a server with several workers short of work.
            if let deadline, Date() >= deadline { break }
            let start = DispatchTime.now().uptimeNanoseconds
            if connection == nil { connection = Connection(port: port) }
            guard let open = connection else { result.failures += 1; continue }
            var ok = open.send(request)
            if ok, mode == .oneShot { shutdown(open.fd, Int32(SHUT_WR)) }
            var answer: [UInt8] = []
            if ok { ok = open.readLine(into: &answer, scratch: &buffer) }
            let end = DispatchTime.now().uptimeNanoseconds
            if ok {
                result.calls += 1
                result.latencies.append(Double(end - start) / 1e9)
                if result.firstAnswer.isEmpty { result.firstAnswer = String(decoding: answer.prefix(200), as: UTF8.self) }
            } else {
                result.failures += 1
            }
            if mode == .oneShot || !ok {
                connection?.close()
                connection = nil
            }
        }
        connection?.close()
        return result
    }

    private final class Connection {
        let fd: Int32
        private var pending: [UInt8] = []

        init?(port: Int) {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if !connectToLoopback(fd, port: port) {
                Glibc.close(fd)
                return nil
            }
        }

        func send(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { return false }
                offset += written
            }
            return true
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
                let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return false }
                answer.append(contentsOf: scratch[0..<count])
            }
        }

        func close() { Glibc.close(fd) }
    }

    private final class Budget: @unchecked Sendable {
        private var remaining: Int
        private let lock = NSLock()
        init(_ calls: Int) { remaining = calls }
        func take() -> Bool {
            if remaining == Int.max { return true }
            lock.lock()
            defer { lock.unlock() }
            guard remaining > 0 else { return false }
            remaining -= 1
            return true
        }
    }

    private final class ResultSlots: @unchecked Sendable {
        private var slots: [LoadResult]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: LoadResult(), count: count) }
        func set(_ index: Int, _ result: LoadResult) {
            lock.lock()
            slots[index] = result
            lock.unlock()
        }
        var all: [LoadResult] { slots }
    }
}
