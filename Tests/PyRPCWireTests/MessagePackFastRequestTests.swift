import XCTest
@testable import PyRPCWire

/// A MessagePack connection's requests read without a value tree (`parseFastMessagePack`) and
/// by difference (`RequestTemplate.read(_:encoding:)`): they must read exactly what the
/// general path (`Envelope(messagePack:)`, `RPCRequest(body:)`) reads, or step aside; and
/// `skipValue` must accept exactly what `readValue` accepts.
final class MessagePackFastRequestTests: XCTestCase {
    /// The general path's request, its arguments as values.
    func general(_ bytes: [UInt8]) -> RPCRequest? {
        guard let envelope = try? Envelope(messagePack: bytes), envelope.header == Header.rpcRequest else { return nil }
        return try? RPCRequest(body: envelope.value)
    }

    func fast(_ bytes: [UInt8]) -> RPCRequest? {
        bytes.withUnsafeBytes { RPCRequest.parseFastMessagePack($0) }
    }

    /// A fast read with its raw arguments decoded into values, to compare with the general path's.
    func decoded(_ request: RPCRequest?) -> RPCRequest? {
        guard var request, let raw = request.rawArguments?.array, case .array(let values)? = try? MessagePackReader.decode(raw) else { return nil }
        request.rawArguments = nil
        request.arguments = values
        return request
    }

    func frame(_ request: RPCRequest) -> [UInt8] {
        request.envelope.messagePackEncoded()
    }

    let values: [JSONValue] = [
        .int(-7), .int(300), .int(Int.min), .float(2.5), .float(.infinity), .string("é ✓ \"}"), .string(String(repeating: "x", count: 40)),
        .array([.int(1), .array([.string("x"), .array([])])]), .bool(false), .null, .bigInt("123456789012345678901234567890"),
        .bigInt("-99999999999999999999"), .array((0..<20).map { .float(Double($0) / 3) }),
    ]
    let ids: [JSONValue?] = [nil, .int(1), .int(70_000), .string("r\"1}"), .null, .float(0.25), .bigInt("99999999999999999999")]

    func testClientRequestsTakeTheFastPathAndAgree() throws {
        var random = SeededGenerator(seed: 5)
        for index in 0..<300 {
            let request = RPCRequest(
                client: index % 3 == 0 ? nil : "c\(index % 7)", service: "calc", rpc: index % 2 == 0 ? "add" : "tötal",
                arguments: (0..<Int.random(in: 0...4, using: &random)).map { _ in values.randomElement(using: &random)! },
                argumentTypes: ["int", "List[float]"], returnTypes: index % 5 == 0 ? [] : ["float"],
                id: ids.randomElement(using: &random)!, timeout: index % 4 == 0 ? 2.5 : nil)
            let bytes = frame(request)
            let read = try XCTUnwrap(fast(bytes), "\(request)")
            XCTAssertEqual(decoded(read), general(bytes))
            XCTAssertEqual(decoded(read), request)
        }
    }

    /// Requests the general path reads (or refuses) with its own words: the fast path steps aside.
    func testUnusualShapesStepAside() {
        let base = RPCRequest(client: "c1", service: "calc", rpc: "add", arguments: [.int(1), .int(2)], argumentTypes: ["int", "int"], returnTypes: ["int"], id: .int(7))
        func envelope(header: String = "header", _ members: [String: JSONValue]) -> [UInt8] {
            MessagePackWriter.encode(.object([header: .string(Header.rpcRequest), "value": .object(members)]))
        }
        var members = base.envelope.value
        var withMap = members
        withMap["arguments"] = .array([.object(["a": .int(1)])])
        var withUnknown = members
        withUnknown["extra"] = .int(1)
        var argumentsNotAList = members
        argumentsNotAList["arguments"] = .string("[1, 2]")
        var badTimeout = members
        badTimeout["timeout"] = .int(-1)
        var listID = members
        listID["id"] = .array([.int(7)])
        var numberService = members
        numberService["service"] = .int(3)
        members["client"] = .null
        var cut = frame(base)
        cut.removeLast()
        var invalidUTF8 = MessagePackWriter.encode(.object(["header": .string(Header.rpcRequest), "value": .object(base.envelope.value.merging(["arguments": .array([.string("ab")])]) { $1 })]))
        let at = try! XCTUnwrap(invalidUTF8.firstRange(of: Array("ab".utf8)))
        invalidUTF8[at.lowerBound] = 0xC3  // a lone lead byte
        var timestamp = MessagePackWriter.encode(.object(["header": .string(Header.rpcRequest), "value": .object(base.envelope.value.merging(["arguments": .array([.bigInt("123456789012345678901")])]) { $1 })]))
        let ext = try! XCTUnwrap(timestamp.firstIndex(of: 0x01))  // the extension's type byte
        timestamp[ext] = 0xFF
        let steppedAside: [(String, [UInt8])] = [
            ("the type alias", envelope(header: "type", base.envelope.value)),
            ("a map among the arguments", envelope(withMap)),
            ("an unknown key", envelope(withUnknown)),
            ("arguments not a list", envelope(argumentsNotAList)),
            ("a negative timeout", envelope(badTimeout)),
            ("a list as the id", envelope(listID)),
            ("a number as the service", envelope(numberService)),
            ("cut short", cut),
            ("a trailing byte", frame(base) + [0xC0]),
            ("invalid UTF-8 in an argument", invalidUTF8),
            ("an extension type other than 1", timestamp),
            ("another header", Envelope(header: Header.listRequest, value: [:]).messagePackEncoded()),
        ]
        for (what, bytes) in steppedAside {
            XCTAssertNil(fast(bytes), what)
        }
        XCTAssertEqual(decoded(fast(envelope(members))), general(envelope(members)), "a nil client is read")
        XCTAssertNotNil(general(envelope(members)))
    }

    func testSameRequestWithOtherArgumentsAndIdsIsReadByDifference() throws {
        var random = SeededGenerator(seed: 12)
        for (index, firstID) in ids.enumerated() {
            let base = RPCRequest(
                client: index % 2 == 0 ? "c1" : nil, service: "calc", rpc: "add", arguments: [.int(1), .int(2)],
                argumentTypes: ["int", "int"], returnTypes: ["int"], id: firstID ?? .int(0), timeout: index == 3 ? 1.5 : nil)
            let kept = try XCTUnwrap(frame(base).withUnsafeBytes { RequestTemplate.read($0, encoding: .messagePack) }?.template)
            XCTAssertEqual(kept.encoding, .messagePack)
            for _ in 0..<60 {
                var next = base
                next.arguments = (0..<Int.random(in: 0...4, using: &random)).map { _ in values.randomElement(using: &random)! }
                next.id = ids.randomElement(using: &random)! ?? .int(5)
                let bytes = frame(next)
                let read = bytes.withUnsafeBytes { new in kept.match(new, encoding: .messagePack).map { kept.request(for: $0, in: new) } }
                XCTAssertEqual(read, fast(bytes), "\(next)")
                XCTAssertEqual(decoded(read), next)
                // The same bytes never match for a JSON connection.
                XCTAssertNil(bytes.withUnsafeBytes { kept.match($0, encoding: .json) })
            }
            var other = base
            other.rpc = "sub"
            XCTAssertNil(frame(other).withUnsafeBytes { kept.match($0, encoding: .messagePack) })
            var map = base
            map.arguments = [.object(["a": .int(1)])]
            XCTAssertNil(frame(map).withUnsafeBytes { kept.match($0, encoding: .messagePack) }, "a map among the arguments")
        }
    }

    /// `skipValue` and `readValue` agree on every input: valid map-free values are stepped over
    /// to the same end; anything `readValue` refuses, `skipValue` refuses. Mutations of valid
    /// values reach every type byte and every cut.
    func testSkipAcceptsExactlyWhatReadValueAccepts() {
        var random = SeededGenerator(seed: 99)
        var checked = 0
        for _ in 0..<3_000 {
            let seed = values.randomElement(using: &random)!
            var bytes = MessagePackWriter.encode(.array([seed, values.randomElement(using: &random)!]))
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                case 1 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
                default: bytes.append(UInt8.random(in: 0...255, using: &random))
                }
            }
            if agree(bytes) { checked += 1 }
        }
        XCTAssertGreaterThan(checked, 500)
        // Nesting up to the limit and one past it.
        var deepest = 0
        for levels in MessagePackReader.maximumDepth - 4...MessagePackReader.maximumDepth {
            if agree(Array(repeating: 0x91, count: levels) + [0x01]) { deepest = levels }
        }
        XCTAssertEqual(deepest, MessagePackReader.maximumDepth - 2, "lists nest up to the limit below the body map")
    }

    /// Whether both read `bytes` as a valid value (checking they end at the same place), after
    /// checking that they agree.
    @discardableResult
    func agree(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var reader = MessagePackScanner(bytes: raw)
            var skipper = MessagePackScanner(bytes: raw)
            let read = try? reader.readValue(depth: 2)
            let skipped = skipper.skipValue(depth: 2)
            guard let read, !read.holdsObject else {
                XCTAssertFalse(skipped, "\(bytes)")
                return false
            }
            XCTAssertTrue(skipped, "\(bytes)")
            XCTAssertEqual(skipper.index, reader.index, "\(bytes)")
            return true
        }
    }
}

extension JSONValue {
    /// Whether an object stands anywhere in the value (`skipValue` leaves those to `readValue`).
    var holdsObject: Bool {
        switch self {
        case .object: true
        case .array(let items): items.contains { $0.holdsObject }
        default: false
        }
    }
}
