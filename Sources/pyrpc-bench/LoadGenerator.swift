import Foundation
import PyRPCTLS

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
    /// The first answer that was not the run's answer (see `LoadGenerator.isTheAnswer`).
    var firstUnexpected = ""
    /// TLS connections opened, and how many of them resumed an earlier session.
    var handshakes = 0
    var resumed = 0

    var callsPerSecond: Double { seconds > 0 ? Double(calls) / seconds : 0 }

    /// Adds another run of the same load (its time, calls and latencies).
    mutating func add(_ other: LoadResult) {
        calls += other.calls
        failures += other.failures
        seconds += other.seconds
        latencies += other.latencies
        handshakes += other.handshakes
        resumed += other.resumed
        if firstUnexpected.isEmpty { firstUnexpected = other.firstUnexpected }
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
        /// Connect, send, half-close, read the answer, close — for every call. Over TLS:
        /// connect, handshake, send, close_notify and half-close, read until the server closes.
        case oneShot
    }

    /// How a run's connections speak TLS.
    enum TLS: Sendable {
        /// One context for every connection: each new one resumes the session the last one
        /// kept (TLS 1.3 tickets).
        case resuming(TLSClientContext)
        /// A fresh context for each connection, with this CA: nothing to resume, so every
        /// handshake is a full one (certificate, signature, key exchange).
        case fullHandshakes(ca: [UInt8])

        func contextForNextConnection() -> TLSClientContext? {
            switch self {
            case .resuming(let context): return context
            case .fullHandshakes(let ca): return try? TLSClientContext(ca: ca, certificate: nil, key: nil)
            }
        }
    }

    /// Runs until `duration` seconds pass or `calls` calls are done (whichever is given);
    /// plaintext unless `tls` is given.
    static func run(port: Int, request: [UInt8], mode: Mode, concurrency: Int, duration: Double? = nil, calls: Int? = nil,
                    tls: TLS? = nil) -> LoadResult {
        let deadline = duration.map { Date().addingTimeInterval($0) }
        let budget = Budget(calls ?? Int.max)
        let results = ResultSlots(count: concurrency)
        let group = DispatchGroup()
        let started = Date()
        for index in 0..<concurrency {
            group.enter()
            let thread = Thread {
                results.set(index, worker(port: port, request: request, mode: mode, tls: tls, deadline: deadline, budget: budget))
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

    private static func worker(port: Int, request: [UInt8], mode: Mode, tls: TLS?, deadline: Date?, budget: Budget) -> LoadResult {
        var result = LoadResult()
        result.latencies.reserveCapacity(1 << 16)
        var connection: LoadConnection?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        // A MessagePack request starts with the mark that chooses the encoding: sent once per
        // connection, and its answers are frames, not lines.
        let messagePack = request.first == 0x00
        let frame = messagePack ? Array(request.dropFirst()) : request
        var fresh = true
        var expected: [UInt8]?
        while budget.take() {
            // Every call: threads checking only now and then stop up to that many calls apart,
            // and the last ones alone leave a server with several workers short of work.
            if let deadline, Date() >= deadline { break }
            let start = DispatchTime.now().uptimeNanoseconds
            if connection == nil {
                fresh = true
                connection = LoadConnection(port: port, tls: tls?.contextForNextConnection())
                if let connection, tls != nil {
                    result.handshakes += 1
                    if connection.isResumed { result.resumed += 1 }
                }
            }
            guard let open = connection else { result.failures += 1; continue }
            var ok = open.send(fresh ? request : frame)
            fresh = false
            if ok, mode == .oneShot { open.finishSending() }
            var answer: [UInt8] = []
            if ok { ok = messagePack ? open.readFrame(into: &answer, scratch: &buffer) : open.readLine(into: &answer, scratch: &buffer) }
            if ok, mode == .oneShot, tls != nil { open.drainUntilClosed(scratch: &buffer) }
            let end = DispatchTime.now().uptimeNanoseconds
            if ok, !isTheAnswer(answer, expected: &expected) {
                ok = false
                if result.firstUnexpected.isEmpty { result.firstUnexpected = String(decoding: answer.prefix(200), as: UTF8.self) }
            }
            if ok {
                result.calls += 1
                result.latencies.append(Double(end - start) / 1e9)
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

    /// Whether `answer` is the run's answer. Every call of a run is the same call, so every
    /// answer must be the first one byte for byte, and the first must be a result (`RPC-RES`),
    /// not an exception: a server that answered every call with an exception, or answered
    /// wrong now and then, must not look fast. Any other answer counts as a failed call.
    static func isTheAnswer(_ answer: [UInt8], expected: inout [UInt8]?) -> Bool {
        if let expected { return answer == expected }
        guard answer.firstRange(of: Array("RPC-RES".utf8)) != nil else { return false }
        expected = answer
        return true
    }

    private final class Budget: @unchecked Sendable {
        private var remaining: Int
        private let lock = NSLock()
        /// Runs bounded by time take no lock; read without one, so it must never change.
        private let unlimited: Bool
        init(_ calls: Int) {
            remaining = calls
            unlimited = calls == Int.max
        }
        func take() -> Bool {
            if unlimited { return true }
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
        var all: [LoadResult] {
            lock.lock()
            defer { lock.unlock() }
            return slots
        }
    }
}
