#if canImport(Glibc)
import Glibc
#endif

/// A small RPC-REQ kept to read the next ones on the same connection by difference.
///
/// Clients send the same request again and again with other arguments and ids. A message
/// whose bytes equal the template's everywhere but inside its `arguments` and `id` values is
/// the same request with those two values replaced: it is read by comparing bytes and
/// skipping the two values, without making a String of any name or type again. Anything
/// else is not a match (nil), and the caller reads the message in full.
public struct RequestTemplate: Sendable {
    private let bytes: [UInt8]
    private let arguments: Range<Int>
    private let id: Range<Int>?
    /// The template's own request (its arguments and id included).
    public let request: RPCRequest

    /// Templates are kept for messages up to this size; larger ones gain nothing from it.
    public static let maxBytes = 1024

    /// Reads `bytes` as `RPCRequest.parseFast` does; with the request, a template of it
    /// when the message is small.
    public static func read(_ bytes: UnsafeRawBufferPointer) -> (request: RPCRequest, template: RequestTemplate?)? {
        guard let (request, arguments, id) = RPCRequest.parseFastShape(bytes) else { return nil }
        guard bytes.count <= maxBytes else { return (request, nil) }
        return (request, RequestTemplate(bytes: Array(bytes), arguments: arguments, id: id, request: request))
    }

    /// `bytes` read by difference from the template; nil unless they differ only inside the
    /// `arguments` list and the `id` value (then `RPCRequest.parseFast` reads them the same).
    public func match(_ new: UnsafeRawBufferPointer) -> RPCRequest? {
        guard let newBase = new.baseAddress else { return nil }
        var scanner = JSONScanner(bytes: new)
        var rawArguments: Range<Int> = 0..<0
        var newID: JSONValue?
        return bytes.withUnsafeBytes { template -> RPCRequest? in
            let base = template.baseAddress!
            var inTemplate = 0
            /// The bytes up to `hole` are the template's, and the hole holds a value of the
            /// kind `parseFast` accepts there.
            func fill(_ hole: Range<Int>, isArguments: Bool) -> Bool {
                let fixed = hole.lowerBound - inTemplate
                guard new.count - scanner.index >= fixed,
                      memcmp(base + inTemplate, newBase + scanner.index, fixed) == 0 else { return false }
                scanner.index += fixed
                inTemplate = hole.upperBound
                let start = scanner.index
                if isArguments {
                    guard scanner.current == UInt8(ascii: "["), (try? scanner.skipValue(depth: 2)) != nil else { return false }
                    rawArguments = start..<scanner.index
                    return true
                }
                guard let value = try? scanner.parseValue(depth: 2), value.isRequestID else { return false }
                newID = value
                return true
            }
            // The holes in the order they stand in the message.
            if let id, id.lowerBound < arguments.lowerBound {
                guard fill(id, isArguments: false), fill(arguments, isArguments: true) else { return nil }
            } else {
                guard fill(arguments, isArguments: true), id.map({ fill($0, isArguments: false) }) ?? true else { return nil }
            }
            let rest = template.count - inTemplate
            guard new.count - scanner.index == rest,
                  memcmp(base + inTemplate, newBase + scanner.index, rest) == 0 else { return nil }
            var request = request
            request.rawArguments = Array(UnsafeRawBufferPointer(rebasing: new[rawArguments]))
            request.id = newID
            return request
        }
    }
}
