import XCTest
@testable import PyRPCWire

/// `RequestTemplate.match` reads a request by difference from the last one: it must read
/// exactly what `RPCRequest.parseFast` reads, or step aside.
final class RequestTemplateTests: XCTestCase {
    func template(_ text: String) throws -> RequestTemplate {
        try XCTUnwrap(Array(text.utf8).withUnsafeBytes { RequestTemplate.read($0) }?.template, text)
    }

    func match(_ template: RequestTemplate, _ text: String) -> RPCRequest? {
        Array(text.utf8).withUnsafeBytes { bytes in template.match(bytes).map { template.request(for: $0, in: bytes) } }
    }

    func fast(_ text: String) -> RPCRequest? {
        Array(text.utf8).withUnsafeBytes { RPCRequest.parseFast($0) }
    }

    func line(_ request: RPCRequest) -> String {
        String(decoding: request.encoded().dropLast(), as: UTF8.self)
    }

    func testSameRequestWithOtherArgumentsAndIdsIsReadByDifference() throws {
        var random = SeededGenerator(seed: 11)
        let values: [JSONValue] = [.int(-7), .float(2.5), .string("]\"}{,"), .array([.int(1), .array([.string("x")])]), .object(["a": .null]), .bool(false), .bigInt("123456789012345678901234567890")]
        let ids: [JSONValue?] = [.int(1), .string("r\"1}"), .null, .float(0.25), .bigInt("99999999999999999999")]
        for (index, firstID) in ids.enumerated() {
            let base = RPCRequest(
                client: index % 2 == 0 ? "c1" : nil, service: "calc", rpc: "add", arguments: [.int(1), .int(2)],
                argumentTypes: ["int", "int"], returnTypes: ["int"], id: firstID, timeout: index == 3 ? 1.5 : nil)
            let kept = try template(line(base))
            for _ in 0..<60 {
                var next = base
                next.arguments = (0..<Int.random(in: 0...4, using: &random)).map { _ in values.randomElement(using: &random)! }
                next.id = ids.randomElement(using: &random)!
                let text = line(next)
                let read = try XCTUnwrap(match(kept, text), "same shape, other arguments and id: \(text)")
                XCTAssertEqual(read, fast(text), text)
            }
        }
    }

    func testAnyOtherDifferenceStepsAside() throws {
        let kept = try template(#"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"],"id":7}}"#)
        XCTAssertNotNil(match(kept, #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[3, 4],"argument-types":["int","int"],"return-types":["int"],"id":"x"}}"#))
        let others = [
            #"{"header":"RPC-REQ","value":{"client":"c2","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"],"id":7}}"#,  // other client
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","float"],"return-types":["int"],"id":7}}"#,  // other types
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"]}}"#,  // no id
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"],"id":7,"timeout":1}}"#,  // a timeout
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"],"id":7} }"#,  // spacing
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":{"a":1},"argument-types":["int","int"],"return-types":["int"],"id":7}}"#,  // not a list
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2,"argument-types":["int","int"],"return-types":["int"],"id":7}}"#,  // broken list
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"],"id":[7]}}"#,  // id a list
            #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[1,2],"argument-types":["int","int"],"return-types":["int"],"id":7}"#,  // cut short
            "",
        ]
        for text in others { XCTAssertNil(match(kept, text), text) }
    }

    func testLargeMessagesKeepNoTemplate() {
        let big = RPCRequest(service: "s", rpc: "r", arguments: [.string(String(repeating: "x", count: RequestTemplate.maxBytes))], argumentTypes: ["str"], returnTypes: ["str"])
        let read = big.encoded().dropLast().withUnsafeBytes { RequestTemplate.read($0) }
        XCTAssertNotNil(read?.request)
        XCTAssertNil(read?.template)
    }
}
