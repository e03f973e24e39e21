import XCTest
@testable import PyRPCWire

final class EnvelopeTests: XCTestCase {
    func testHeaderAndValue() throws {
        let message = try envelope(#"{"header": "RPC-REQ", "value": {"rpc": "add"}, "extra": [1]}"#)
        XCTAssertEqual(message.header, "RPC-REQ")
        XCTAssertEqual(message.value, ["rpc": "add"])
    }

    func testTypeIsAnAliasOfHeader() throws {
        XCTAssertEqual(try envelope(#"{"type": "RPC-REQ", "value": {}}"#).header, "RPC-REQ")
        // When both are present, "header" wins.
        XCTAssertEqual(try envelope(#"{"type": "LS-REQ", "header": "RPC-REQ", "value": {}}"#).header, "RPC-REQ")
    }

    func testBadRequests() throws {
        let notObject = rpcError { () throws(RPCError) in try Envelope(message: [1]) }
        XCTAssertEqual(notObject?.type, .badRequest)
        XCTAssertEqual(
            notObject?.message, #"a message must be a JSON object like {"header": "RPC-REQ", "value": {...}}, got a list"#)

        let noHeader = rpcError { () throws(RPCError) in try Envelope(message: .object(["value": .object(["id": 9])])) }
        XCTAssertEqual(noHeader, RPCError(.badRequest, #"missing field 'header' (the message type, e.g. "RPC-REQ")"#, id: 9))

        let numericHeader = rpcError { () throws(RPCError) in try Envelope(message: .object(["header": 5, "value": .object([:])])) }
        XCTAssertEqual(numericHeader, RPCError(.badRequest, "field 'header' must be a string, got an integer"))

        let noValue = rpcError { () throws(RPCError) in try Envelope(message: .object(["header": "RPC-REQ"])) }
        XCTAssertEqual(noValue, RPCError(.badRequest, "missing field 'value' (the message body object)"))

        let stringValue = rpcError { () throws(RPCError) in try Envelope(message: .object(["header": "RPC-REQ", "value": "x"])) }
        XCTAssertEqual(stringValue, RPCError(.badRequest, "field 'value' must be an object, got a string"))
    }

    func testEncodedIsOneSortedLine() {
        let bytes = Envelope(header: "LS-REQ", value: ["b": 1, "a": "x\ny"]).encoded()
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), #"{"header":"LS-REQ","value":{"a":"x\ny","b":1}}"# + "\n")
        XCTAssertEqual(bytes.filter { $0 == 0x0A }.count, 1)
    }
}

final class RPCRequestTests: XCTestCase {
    static let example = #"""
        {"header": "RPC-REQ", "value": {"client": "c1", "service": "calc", "rpc": "add",
         "arguments": [2, 3], "argument-types": ["int", "int"], "return-types": ["int"], "id": 7}}
        """#

    func body(_ text: String) throws -> [String: JSONValue] {
        try envelope(text).value
    }

    func request(_ members: [String: JSONValue]) -> RPCError? {
        rpcError { () throws(RPCError) in try RPCRequest(body: members) }
    }

    var valid: [String: JSONValue] {
        ["service": "calc", "rpc": "add", "arguments": [2, 3], "argument-types": ["int", "int"], "return-types": ["int"], "id": 7]
    }

    func testSpecExample() throws {
        let request = try RPCRequest(body: body(Self.example))
        XCTAssertEqual(
            request,
            RPCRequest(
                client: "c1", service: "calc", rpc: "add", arguments: [2, 3], argumentTypes: ["int", "int"],
                returnTypes: ["int"], id: 7, timeout: nil))
    }

    func testOptionalFields() throws {
        var members = valid
        members["id"] = nil
        let minimal = try RPCRequest(body: members)
        XCTAssertNil(minimal.client)
        XCTAssertNil(minimal.id)
        XCTAssertNil(minimal.timeout)

        members["client"] = .null
        members["timeout"] = 2.5
        members["id"] = "req-1"
        let full = try RPCRequest(body: members)
        XCTAssertNil(full.client)
        XCTAssertEqual(full.timeout, 2.5)
        XCTAssertEqual(full.id, "req-1")

        members["timeout"] = 3
        XCTAssertEqual(try RPCRequest(body: members).timeout, 3.0)
        members["id"] = .null
        XCTAssertEqual(try RPCRequest(body: members).id, .null)
        members["id"] = .bigInt("123456789012345678901234567890")
        XCTAssertEqual(try RPCRequest(body: members).id, .bigInt("123456789012345678901234567890"))
    }

    func testUnknownTypeNamesAreKeptForDispatch() throws {
        var members = valid
        members["argument-types"] = ["integer", "List[int"]
        XCTAssertEqual(try RPCRequest(body: members).argumentTypes, ["integer", "List[int"])
    }

    func testMissingFields() {
        for key in ["service", "rpc"] {
            var members = valid
            members[key] = nil
            XCTAssertEqual(request(members), RPCError(.badRequest, "missing field '\(key)' in RPC-REQ", id: 7))
        }
        var members = valid
        members["arguments"] = nil
        XCTAssertEqual(request(members), RPCError(.badRequest, "missing field 'arguments' in RPC-REQ (a list of argument values)", id: 7))
        for key in ["argument-types", "return-types"] {
            var members = valid
            members[key] = nil
            XCTAssertEqual(
                request(members),
                RPCError(.badRequest, #"missing field '\#(key)' in RPC-REQ (a list of type names such as ["int", "int"])"#, id: 7))
        }
    }

    func testWrongFieldTypes() {
        func with(_ key: String, _ value: JSONValue) -> String? {
            var members = valid
            members[key] = value
            return request(members)?.message
        }
        XCTAssertEqual(with("service", 5), "field 'service' must be a string, got an integer")
        XCTAssertEqual(with("rpc", nil), "field 'rpc' must be a string, got null")
        XCTAssertEqual(with("client", 1), "field 'client' must be a string, got an integer")
        XCTAssertEqual(with("arguments", .object([:])), "field 'arguments' must be a list, got an object")
        XCTAssertEqual(with("arguments", "[2, 3]"), "field 'arguments' must be a list, got a string")
        XCTAssertEqual(with("argument-types", "int"), "field 'argument-types' must be a list of type names, got a string")
        XCTAssertEqual(with("return-types", [1]), "field 'return-types' must hold type names as strings, found an integer")
        XCTAssertEqual(with("id", [1]), "field 'id' must be a JSON scalar (number or string)")
        XCTAssertEqual(with("id", .object([:])), "field 'id' must be a JSON scalar (number or string)")
        for timeout: JSONValue in [0, -1, "5", true, .float(.infinity), .float(.nan), []] {
            XCTAssertEqual(with("timeout", timeout), "field 'timeout' must be a positive number of seconds", "\(timeout)")
        }
        var members = valid
        members["service"] = 5
        XCTAssertEqual(request(members)?.id, 7, "the id is echoed in Bad Request answers")
        XCTAssertEqual(request(members)?.type, .badRequest)
    }

    func testEncodedRoundTrip() throws {
        let original = RPCRequest(
            client: "c1", service: "calc", rpc: "mean", arguments: [[1.5, 2], "x", .bigInt("-99999999999999999999")],
            argumentTypes: ["List[float]", "str", "int"], returnTypes: ["float"], id: "abc", timeout: 1.5)
        let bytes = original.encoded()
        XCTAssertEqual(bytes.last, 0x0A)
        let decoded = try RPCRequest(body: try Envelope(message: try JSONParser.parse(Array(bytes.dropLast()))).value)
        XCTAssertEqual(decoded, original)
        XCTAssertEqual(try envelope(String(decoding: bytes, as: UTF8.self)).header, "RPC-REQ")
    }

    func testEncodedExactBytes() {
        let request = RPCRequest(service: "calc", rpc: "add", arguments: [2, 3], argumentTypes: ["int", "int"], returnTypes: ["int"])
        XCTAssertEqual(
            String(decoding: request.encoded(), as: UTF8.self),
            #"{"header":"RPC-REQ","value":{"argument-types":["int","int"],"arguments":[2,3],"return-types":["int"],"rpc":"add","service":"calc"}}"#
                + "\n")
    }
}

final class RPCReplyTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testResultExactBytes() {
        XCTAssertEqual(text(RPCReply.result([5], id: 7)), #"{"header":"RPC-RES","value":{"return-values":[5],"id":7}}"# + "\n")
        XCTAssertEqual(text(RPCReply.result([], id: nil)), #"{"header":"RPC-RES","value":{"return-values":[]}}"# + "\n")
        XCTAssertEqual(
            text(RPCReply.result([.float(.nan), .float(-.infinity), 0.5, "é\n", .bigInt("18446744073709551616")], id: "a\"b")),
            #"{"header":"RPC-RES","value":{"return-values":["nan","-inf",0.5,"é\n",18446744073709551616],"id":"a\"b"}}"# + "\n")
        XCTAssertEqual(text(RPCReply.result([[1, 2], true], id: .null)), #"{"header":"RPC-RES","value":{"return-values":[[1,2],true],"id":null}}"# + "\n")
    }

    func testWriteResultAppends() {
        var writer = JSONWriter()
        RPCReply.writeResult([1], id: nil, into: &writer)
        RPCReply.writeResult([2], id: 3, into: &writer)
        XCTAssertEqual(
            text(writer.bytes),
            #"{"header":"RPC-RES","value":{"return-values":[1]}}"# + "\n" + #"{"header":"RPC-RES","value":{"return-values":[2],"id":3}}"# + "\n")
    }

    func testExceptionExactBytes() {
        let error = RPCError(.invalidArguments, "calc.add accepts (int, int) -> (int) or (float, float) -> (float)", id: "abc")
        XCTAssertEqual(
            text(RPCReply.exception(error)),
            #"{"header":"RPC-EX","value":{"exception-type":"Invalid Arguments","exception-message":"calc.add accepts (int, int) -> (int) or (float, float) -> (float)","id":"abc"}}"#
                + "\n")
        XCTAssertEqual(
            text(RPCReply.exception(RPCError(.serviceNotFound, ""))),
            #"{"header":"RPC-EX","value":{"exception-type":"Service Not Found","exception-message":""}}"# + "\n")
        XCTAssertEqual(
            text(RPCReply.exception(RPCError(.executionException, "ValueError: bad \"x\"\n", id: 1))),
            #"{"header":"RPC-EX","value":{"exception-type":"Execution Exception","exception-message":"ValueError: bad \"x\"\n","id":1}}"#
                + "\n")
    }

    func testExceptionTypeNames() {
        XCTAssertEqual(
            [ExceptionType.serviceNotFound, .rpcNotFound, .clientNotRegistered, .invalidArguments, .executionException, .timeout, .badRequest, .serverBusy]
                .map(\.rawValue),
            [
                "Service Not Found", "RPC Not Found", "Client Not Registered", "Invalid Arguments", "Execution Exception", "Timeout",
                "Bad Request", "Server Busy",
            ])
        XCTAssertEqual(RPCError(.badRequest, "x").description, "Bad Request: x")
        XCTAssertEqual(RPCError(.rpcNotFound, "").description, "RPC Not Found")
    }

    func testDecodeResult() throws {
        let reply = try envelope(text(RPCReply.result([5, "x", [1.5]], id: 7)))
        XCTAssertEqual(try RPCReply.decode(reply), [5, "x", [1.5]])
    }

    func testDecodeException() throws {
        let reply = try envelope(text(RPCReply.exception(RPCError(.timeout, "the call ran past its limit of 2.0 s", id: 7))))
        let error = rpcError { () throws(RPCError) in try RPCReply.decode(reply) }
        XCTAssertEqual(error, RPCError(.timeout, "the call ran past its limit of 2.0 s", id: 7))

        let unknown = try envelope(#"{"header": "RPC-EX", "value": {"exception-type": "Future Thing"}}"#)
        XCTAssertEqual(rpcError { () throws(RPCError) in try RPCReply.decode(unknown) }, RPCError(ExceptionType(rawValue: "Future Thing"), ""))
    }

    func testDecodeMalformed() throws {
        let noValues = try envelope(#"{"header": "RPC-RES", "value": {"return-values": 5}}"#)
        XCTAssertEqual(rpcError { () throws(RPCError) in try RPCReply.decode(noValues) }, RPCError(.badRequest, "RPC-RES without a 'return-values' list"))
        let other = try envelope(#"{"header": "LS-RES", "value": {}}"#)
        XCTAssertEqual(rpcError { () throws(RPCError) in try RPCReply.decode(other) }, RPCError(.badRequest, "expected RPC-RES or RPC-EX, got LS-RES"))
    }
}

final class ManifestTests: XCTestCase {
    static let sample = ServerManifest(
        server: "s1",
        clients: [ClientAddress(name: "c1", host: "127.0.0.1"), ClientAddress(name: "c2", host: "::1")],
        nodeAddresses: ["127.0.0.1", "::1"],
        services: [
            ServiceManifest(
                name: "calc", tenants: ["c1", "c2"],
                rpcs: [
                    RPCManifest(
                        name: "add", signature: Signature(arguments: [.int, .int], returns: [.int]), function: "add",
                        timeout: nil, scriptHash: ScriptHash.sha256("a"), scriptPath: "/srv/add.py"),
                    RPCManifest(
                        name: "add", signature: Signature(arguments: [.list(.list(.float))], returns: [.float, .str]),
                        function: "add_matrix", timeout: 2.5, scriptHash: ScriptHash.sha256("a"), scriptPath: "/srv/add.py"),
                ]),
            ServiceManifest(name: "empty", tenants: [], rpcs: []),
        ])

    func testJSONRoundTrip() throws {
        let text = Self.sample.json.jsonText
        XCTAssertEqual(try ServerManifest(json: try JSONParser.parse(text)), Self.sample)
        XCTAssertTrue(text.contains(#""args":["List[List[float]]"]"#), text)
        XCTAssertTrue(text.contains(#""timeout":2.5"#), text)
    }

    func testEmptyManifestRoundTrip() throws {
        let empty = ServerManifest(server: "s", clients: [], nodeAddresses: [], services: [])
        XCTAssertEqual(empty.json.jsonText, #"{"clients":[],"nodes":[],"server":"s","services":[]}"#)
        XCTAssertEqual(try ServerManifest(json: empty.json), empty)
    }

    func testTimeoutsThatCannotRoundTripAreRefused() throws {
        // 1e999 reads as infinity, which the manifest on disk could not hold (found by fuzzing).
        for timeout in ["1e999", "-1", "0", "\"soon\""] {
            let text = Self.sample.json.jsonText.replacingOccurrences(of: #""timeout":2.5"#, with: #""timeout":"# + timeout)
            let json = try JSONParser.parse(text)
            XCTAssertEqual(
                rpcError { () throws(RPCError) in try ServerManifest(json: json) },
                RPCError(.badRequest, "manifest rpc add: timeout must be a positive number of seconds"), timeout)
        }
    }

    func testScriptHashes() {
        XCTAssertEqual(Self.sample.scriptHashes, [ScriptHash.sha256("a")])
    }

    func testErrors() throws {
        var json = Self.sample.json.objectValue!
        json["server"] = nil
        XCTAssertEqual(
            rpcError { () throws(RPCError) in try ServerManifest(json: .object(json)) },
            RPCError(.badRequest, "manifest needs a string 'server'"))

        json = Self.sample.json.objectValue!
        json["nodes"] = [1]
        XCTAssertEqual(
            rpcError { () throws(RPCError) in try ServerManifest(json: .object(json)) }, RPCError(.badRequest, "manifest nodes must be strings"))

        let badType = try JSONParser.parse(
            #"{"server": "s", "clients": [], "nodes": [], "services": [{"name": "calc", "tenants": [], "rpcs": [{"name": "add", "args": ["integer"], "returns": [], "function": "f", "hash": "h", "path": "p"}]}]}"#
        )
        XCTAssertEqual(
            rpcError { () throws(RPCError) in try ServerManifest(json: badType) },
            RPCError(
                .badRequest,
                "manifest rpc add: 'integer' is not a valid type (unknown type 'integer'); valid types are int, float, str, bool and List[T]"))

        let noFunction = try JSONParser.parse(
            #"{"server": "s", "clients": [], "nodes": [], "services": [{"name": "calc", "tenants": [], "rpcs": [{"name": "add", "args": [], "returns": [], "hash": "h", "path": "p"}]}]}"#
        )
        XCTAssertEqual(
            rpcError { () throws(RPCError) in try ServerManifest(json: noFunction) },
            RPCError(.badRequest, "manifest rpc needs a string 'function'"))
        XCTAssertEqual(
            rpcError { () throws(RPCError) in try ServerManifest(json: [1]) }, RPCError(.badRequest, "manifest needs a string 'server'"))
    }
}

final class ScriptHashTests: XCTestCase {
    func testKnownDigests() {
        XCTAssertEqual(ScriptHash.sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(ScriptHash.sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(ScriptHash.sha256("é"), "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")
        XCTAssertEqual(
            ScriptHash.sha256("def add(a, b):\n    return a + b\n"), "ba1a531f581d2e6094e978ed6f7aca7a8d92eeb62c6e7ad73ee692f7f18bc772")
    }

    func testFormat() {
        let hash = ScriptHash.sha256("x")
        XCTAssertEqual(hash.count, 64)
        XCTAssertTrue(hash.allSatisfy { "0123456789abcdef".contains($0) })
        XCTAssertNotEqual(ScriptHash.sha256("x"), ScriptHash.sha256("x\n"))
    }
}
