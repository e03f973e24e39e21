import COpenSSL

/// Why a certificate, a key or a handshake failed, in OpenSSL's words.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ what: String) {
        description = "\(what): \(Self.drainErrors())"
    }

    /// A reason of pyrpc's own, with no OpenSSL error behind it.
    public init(plain reason: String) {
        description = reason
    }

    /// OpenSSL's queued errors for this thread, oldest first, and the queue emptied (a
    /// leftover error would be blamed on the next call).
    static func drainErrors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            guard code != 0 else { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
    }
}
