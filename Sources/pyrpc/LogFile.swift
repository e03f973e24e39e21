import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The server log's own descriptor: a copy of standard error taken at start (above 2, closed
/// on exec). A script that closes 1 and 2 cannot make the log land in whatever the kernel
/// puts on those numbers next — and the server never puts a socket there either.
enum LogFile {
    static let descriptor: Int32 = {
        let copy = fcntl(2, F_DUPFD_CLOEXEC, 3)
        return copy >= 0 ? copy : 2
    }()

    /// Writes `text` whole (one `write` per line keeps lines of several threads apart).
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// swift-log's stream handler format (`2026-12-02T13:13:12+0000 info pyrpc.server:
/// server=s1 [PyRPCServer] message`), written to `LogFile`.
struct LogFileHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        let fields = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        LogFile.write("\(Self.timestamp()) \(event.level) \(label):\(fields) [\(event.source)] \(event.message)\n")
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [Int8](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
