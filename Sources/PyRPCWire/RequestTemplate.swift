#if canImport(Glibc)
import Glibc
#endif

/// A small RPC-REQ kept to read the next ones on the same connection by difference.
///
/// Clients send the same request again and again with other arguments and ids. A message
/// whose bytes equal the template's everywhere but inside its `arguments` and `id` values is
/// the same request with those two values replaced: it is read by comparing bytes and
/// skipping the two values, without making a String of any name or type again. Anything
/// else is not a match (nil), and the caller reads the message in full. The same holds for
/// a MessagePack connection's frames, whose values are stepped over as MessagePack.
///
/// A class: a connection consults its template for every request, and a struct holding a
/// request would be copied, a dozen reference counts each time.
public final class RequestTemplate: Sendable {
    private let bytes: [UInt8]
    private let arguments: Range<Int>
    private let id: Range<Int>?
    /// The template's own request, its id included but without its raw arguments: each
    /// message's own are added by `request(for:in:)`, and the template keeps no copy of them.
    public let request: RPCRequest
    /// What its bytes are written in: a message in another encoding never matches.
    public let encoding: WireEncoding

    /// Templates are kept for messages up to this size; larger ones gain nothing from it.
    public static let maxBytes = 1024

    private init(bytes: [UInt8], arguments: Range<Int>, id: Range<Int>?, request: RPCRequest, encoding: WireEncoding) {
        self.encoding = encoding
        self.bytes = bytes
        self.arguments = arguments
        self.id = id
        self.request = request
    }

    /// Reads `bytes` as `RPCRequest.parseFast` (or, for a MessagePack frame's body,
    /// `parseFastMessagePack`) does; with the request, a template of it when the message is small.
    /// `keeper` keeps `bytes` unchanged while it lives: large arguments are then read in place
    /// (`ArgumentBytes`).
    public static func read(
        _ bytes: UnsafeRawBufferPointer, encoding: WireEncoding = .json, keeper: (AnyObject & Sendable)? = nil
    ) -> (request: RPCRequest, template: RequestTemplate?)? {
        let shape = encoding == .json ? RPCRequest.parseFastShape(bytes) : RPCRequest.parseFastMessagePackShape(bytes)
        guard let (request, arguments, id) = shape else { return nil }
        let withArguments = request.withArguments(bytes[arguments], keeper: keeper)
        guard bytes.count <= maxBytes else { return (withArguments, nil) }
        return (withArguments, RequestTemplate(bytes: Array(bytes), arguments: arguments, id: id, request: request, encoding: encoding))
    }

    /// What a message read by difference has of its own: where its `arguments` list stands
    /// in it, and its `id`. Everything else is the template's.
    public struct Match {
        public let arguments: Range<Int>
        public let id: JSONValue?
    }

    /// `new` (in `encoding`) read by difference from the template; nil unless the bytes differ
    /// only inside the `arguments` list and the `id` value (then `RPCRequest.parseFast` or
    /// `parseFastMessagePack` reads them as `request(for:in:)` does).
    public func match(_ new: UnsafeRawBufferPointer, encoding: WireEncoding = .json) -> Match? {
        guard new.baseAddress != nil, encoding == self.encoding else { return nil }
        return bytes.withUnsafeBytes { template -> Match? in
            var reader = DifferenceReader(template: template, new: new, encoding: encoding)
            // The holes in the order they stand in the message.
            if let id, id.lowerBound < arguments.lowerBound {
                guard reader.fill(id, isArguments: false), reader.fill(arguments, isArguments: true) else { return nil }
            } else {
                guard reader.fill(arguments, isArguments: true), id.map({ reader.fill($0, isArguments: false) }) ?? true else { return nil }
            }
            guard reader.fillRest() else { return nil }
            return Match(arguments: reader.arguments, id: reader.id)
        }
    }

    /// The request a match stands for: the template's, with the message's arguments and id
    /// (read in place when large and `keeper` keeps `new`, as in `read`).
    public func request(for match: Match, in new: UnsafeRawBufferPointer, keeper: (AnyObject & Sendable)? = nil) -> RPCRequest {
        var request = request.withArguments(new[match.arguments], keeper: keeper)
        request.id = match.id
        return request
    }
}

/// Walks a message and its template side by side: equal bytes up to each hole, then the
/// message's own value in the hole. (A struct rather than a local function: a local function
/// capturing the walk's variables pays an exclusivity check on each of them.)
private struct DifferenceReader {
    let template: UnsafeRawBufferPointer
    let new: UnsafeRawBufferPointer
    let encoding: WireEncoding
    var scanner: JSONScanner
    /// How far the template is matched.
    var inTemplate = 0
    var arguments: Range<Int> = 0..<0
    var id: JSONValue?

    init(template: UnsafeRawBufferPointer, new: UnsafeRawBufferPointer, encoding: WireEncoding) {
        self.template = template
        self.new = new
        self.encoding = encoding
        scanner = JSONScanner(bytes: new)
    }

    /// Whether the bytes up to `hole` are the template's, and the hole holds a value of the
    /// kind `parseFast` accepts there.
    mutating func fill(_ hole: Range<Int>, isArguments: Bool) -> Bool {
        guard equalBytes(hole.lowerBound - inTemplate) else { return false }
        inTemplate = hole.upperBound
        let start = scanner.index
        if encoding == .messagePack { return fillMessagePack(isArguments: isArguments) }
        if isArguments {
            guard scanner.current == UInt8(ascii: "["), (try? scanner.skipValue(depth: 2)) != nil else { return false }
            arguments = start..<scanner.index
            return true
        }
        guard let value = try? scanner.parseValue(depth: 2), value.isRequestID else { return false }
        id = value
        return true
    }

    /// The hole's value stepped over as MessagePack: the body map's values are at depth 2.
    private mutating func fillMessagePack(isArguments: Bool) -> Bool {
        var values = MessagePackScanner(bytes: new)
        values.index = scanner.index
        let start = values.index
        if isArguments {
            guard values.skipList(depth: 2) else { return false }
            arguments = start..<values.index
        } else {
            guard let value = try? values.readValue(depth: 2), value.isRequestID else { return false }
            id = value
        }
        scanner.index = values.index
        return true
    }

    /// Whether the message ends with exactly the template's remaining bytes.
    mutating func fillRest() -> Bool {
        let rest = template.count - inTemplate
        return new.count - scanner.index == rest && equalBytes(rest)
    }

    /// Whether the next `count` bytes of both are equal; steps over them if so.
    private mutating func equalBytes(_ count: Int) -> Bool {
        guard new.count - scanner.index >= count,
              memcmp(template.baseAddress! + inTemplate, new.baseAddress! + scanner.index, count) == 0 else { return false }
        scanner.index += count
        inTemplate += count
        return true
    }
}
