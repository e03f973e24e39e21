import Foundation
import NIOConcurrencyHelpers
import PyRPCClient

#if canImport(Glibc)
import Glibc
#endif

/// The operations port's cost: `add` under a supervisor with `--metrics-listen`, scraped every
/// second as Prometheus would (only faster), against the same without; and how long a scrape of
/// a server with 2 workers and 100 declared rpcs takes.
extension BenchSuite {
    static let scrapedName = "pyrpc --processes 1 --metrics-listen"

    /// `pyrpc serve --processes 1 --metrics-listen`, and a thread that scrapes it every second
    /// until `stop` is called on what is returned.
    func startSupervisedWithMetrics() async throws -> (server: ServerUnderTest, scraper: MetricsScraper) {
        let metricsPort = freePort()
        let server = try await startSupervised(processes: 1, extra: ["--metrics-listen", "127.0.0.1:\(metricsPort)"], name: Self.scrapedName)
        return (server, MetricsScraper(port: metricsPort, every: 1))
    }

    /// Times scrapes of a server with 2 workers and `rpcs` declared rpcs, each called once.
    func scrapeWorkload(rpcs count: Int = 100, scrapes: Int = 50) async throws {
        let scripts = folder.appendingPathComponent("scraped")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        var rpcs: [(name: String, args: String, returns: String, src: String)] = []
        for index in 0..<count {
            let path = scripts.appendingPathComponent("f\(index).py").path
            try "def f\(index)(x):\n    return x + \(index)\n".write(toFile: path, atomically: true, encoding: .utf8)
            rpcs.append(("f\(index)", "[int]", "[int]", path))
        }
        let metricsPort = freePort()
        let server = try await startSupervised(
            processes: 2, pinned: false, rpcs: rpcs, extra: ["--metrics-listen", "127.0.0.1:\(metricsPort)"], name: "pyrpc --processes 2 (\(count) rpcs)")
        defer { server.stop() }
        // Each rpc called, so each has its series and its buckets, in both workers.
        for index in 0..<count {
            let request = BenchSuite.request("f\(index)", [1], ["int"], ["int"])
            _ = LoadGenerator.run(port: server.port, request: request, mode: .oneShot, concurrency: 2, calls: 4)
        }
        var milliseconds: [Double] = []
        var bytes = 0
        for _ in 0..<scrapes {
            let started = ContinuousClock.now
            guard let body = MetricsScraper.fetch(port: metricsPort) else { throw BenchError("no answer from /metrics on port \(metricsPort)") }
            let elapsed = started.duration(to: .now)
            milliseconds.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            bytes = body.count
        }
        milliseconds.sort()
        let row = ScrapeRow(
            workers: 2, rpcs: count, scrapes: scrapes, median: milliseconds[scrapes / 2], worst: milliseconds.last ?? 0, bytes: bytes)
        report.scrapes.append(row)
        say(String(format: "metrics scrape, 2 workers, %d rpcs: median %.2f ms, worst %.2f ms, %d bytes", count, row.median, row.worst, bytes))
    }
}

struct ScrapeRow {
    var workers: Int
    var rpcs: Int
    var scrapes: Int
    /// Milliseconds, from connecting to the last byte of the answer.
    var median: Double
    var worst: Double
    var bytes: Int
}

/// Scrapes `/metrics` on a thread of its own every `every` seconds until stopped.
final class MetricsScraper: Sendable {
    private let stopped = NIOLockedValueBox(false)
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, every seconds: Double) {
        let thread = Thread { [self] in
            while !stopped.withLockedValue({ $0 }) {
                _ = Self.fetch(port: port)
                usleep(useconds_t(seconds * 1e6))
            }
            done.signal()
        }
        thread.start()
    }

    func stop() {
        stopped.withLockedValue { $0 = true }
        done.wait()
    }

    /// GET /metrics on 127.0.0.1:`port`: the whole answer, or nil.
    static func fetch(port: Int) -> [UInt8]? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        guard fd >= 0, connectToLoopback(fd, port: port) else { return nil }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            answer += chunk[..<count]
        }
        return answer.starts(with: Array("HTTP/1.1 200".utf8)) ? answer : nil
    }
}
