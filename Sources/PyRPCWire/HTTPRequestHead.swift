/// The head of an HTTP/1.x request as pyrpc's operations port reads it (RFC 9112): a request
/// line `METHOD SP TARGET SP HTTP/1.x`, header lines, an empty line. The port serves GET
/// without bodies and closes after each answer, so headers are checked for shape and
/// otherwise skipped. Lines may end in CRLF or a bare LF (which RFC 9112 lets a server accept).
public struct HTTPRequestHead: Sendable, Equatable {
    public let method: String
    /// The target's path, without its query.
    public let path: String
    /// "HTTP/1.0" or "HTTP/1.1".
    public let version: String

    public init(method: String, path: String, version: String) {
        self.method = method
        self.path = path
        self.version = version
    }

    public enum Outcome: Sendable, Equatable {
        /// The head, and how many bytes it took (the empty line included).
        case complete(HTTPRequestHead, length: Int)
        /// No empty line yet: read more (the caller bounds how much).
        case incomplete
        /// Not an HTTP/1.x request head: answer 400 with this reason.
        case invalid(String)
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var lineStart = 0
        var requestLine: HTTPRequestHead?
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\n") else { continue }
            var lineEnd = index - 1
            if lineEnd > lineStart, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            lineStart = index
            guard let head = requestLine else {
                switch readRequestLine(line) {
                case .success(let head): requestLine = head
                case .failure(let reason): return .invalid(reason.text)
                }
                continue
            }
            if line.isEmpty { return .complete(head, length: index) }
            guard isHeaderLine(line) else { return .invalid("a header line is not `name: value` in visible ASCII") }
        }
        // The request line alone can be judged before the head ends.
        if requestLine == nil, bytes.count - lineStart > 0, !couldStartRequestLine(UnsafeRawBufferPointer(rebasing: bytes[lineStart...])) {
            return .invalid("not an HTTP request line")
        }
        return .incomplete
    }

    private struct Reason: Error {
        let text: String
    }

    private static func readRequestLine(_ line: UnsafeRawBufferPointer) -> Result<HTTPRequestHead, Reason> {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(Reason(text: "the request line is not `METHOD /path HTTP/1.1`")) }
        let (method, target, version) = (parts[0], parts[1], parts[2])
        guard !method.isEmpty, method.count <= 16, method.allSatisfy(isMethodCharacter) else {
            return .failure(Reason(text: "the method is not a word in capitals"))
        }
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return .failure(Reason(text: "the target is not a path starting with /"))
        }
        let versionText = String(decoding: version, as: UTF8.self)
        guard versionText == "HTTP/1.1" || versionText == "HTTP/1.0" else {
            return .failure(Reason(text: "only HTTP/1.0 and HTTP/1.1 are spoken here"))
        }
        let path = target.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)[0]
        return .success(HTTPRequestHead(
            method: String(decoding: method, as: UTF8.self), path: String(decoding: path, as: UTF8.self), version: versionText))
    }

    private static func isMethodCharacter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// `name: value`: a token, a colon, then visible ASCII, spaces and tabs.
    private static func isHeaderLine(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
        let name = line[..<colon]
        let value = line[(colon + 1)...]
        return name.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ":") }
            && value.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 }
    }

    /// Whether an unfinished first line may still become a request line (a JSON message or
    /// TLS sent to this port is refused at once, not after the timeout).
    private static func couldStartRequestLine(_ partial: UnsafeRawBufferPointer) -> Bool {
        let method = partial.prefix { $0 != UInt8(ascii: " ") }
        return method.count <= 16 && method.allSatisfy { isMethodCharacter($0) || $0 == UInt8(ascii: "\r") }
    }
}
