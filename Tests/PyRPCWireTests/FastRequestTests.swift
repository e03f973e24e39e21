import XCTest
@testable import PyRPCWire

/// `RPCRequest.parseFast` must read exactly what the general path reads, or step aside.
final class FastRequestTests: XCTestCase {
    /// The general path, as the server runs it.
    func general(_ text: String) -> RPCRequest? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw -> RPCRequest? in
            guard let (message, captured) = try? JSONParser.parse(raw, capturing: "arguments"),
                  let envelope = try? Envelope(message: message), envelope.header == Header.rpcRequest else { return nil }
            return try? RPCRequest(body: envelope.value, rawArguments: captured.map { ArgumentBytes(Array(raw[$0])) })
        }
    }

    func fast(_ text: String) -> RPCRequest? {
        Array(text.utf8).withUnsafeBytes { RPCRequest.parseFast($0) }
    }

    /// When the fast path answers, it must equal the general path; returns whether it answered.
    @discardableResult
    func agree(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard let quick = fast(text) else { return false }
        XCTAssertEqual(quick, general(text), text, file: file, line: line)
        return true
    }

    func testClientEncodedRequestsTakeTheFastPathAndAgree() {
        var random = SeededGenerator(seed: 7)
        for index in 0..<300 {
            let request = RPCRequest(
                client: Bool.random(using: &random) ? "c\(index)" : nil, service: "calc", rpc: "add\(index % 3)",
                arguments: [.int(index), .float(Double(index) / 3), .string("é \"q\" \\ \n"), .array([.bool(true), .null])],
                argumentTypes: ["int", "float", "str", "List[bool]"], returnTypes: index % 2 == 0 ? [] : ["int"],
                id: [nil, .int(index), .string("r\(index)"), .null, .float(1.5)][index % 5],
                timeout: index % 4 == 0 ? Double(index % 7 + 1) / 2 : nil)
            let text = String(decoding: request.encoded().dropLast(), as: UTF8.self)
            XCTAssertTrue(agree(text), "a client's own encoding should take the fast path: \(text)")
        }
    }

    func testHandWrittenSpellingsAgree() {
        let taken = [
            #"{"value": {"rpc": "add", "service": "calc", "arguments": [2, 3], "argument-types": ["int","int"], "return-types": ["int"]}, "header": "RPC-REQ"}"#,
            "  {\n \"header\" : \"RPC-REQ\" ,\t\"value\":{\"service\":\"calc\",\"rpc\":\"add\",\"client\":null,\"timeout\":null,\"arguments\":[ ],\"argument-types\":[],\"return-types\":[]} }  ",
            #"{"header":"RPC-REQ","value":{"service":"c\u0061lc","rpc":"add","arguments":[[1,[2]],{"a":"]"}],"argument-types":["List[int]","str"],"return-types":["int"],"id":12345678901234567890}}"#,
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[1],"argument-types":["int"],"return-types":["int"],"timeout":2}}"#,
        ]
        for text in taken { XCTAssertTrue(agree(text), text) }
    }

    func testUnusualShapesStepAside() {
        let refused = [
            #"{"type":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[],"return-types":[]}}"#,  // alias
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[],"return-types":[],"extra":1}}"#,  // unknown key
            #"{"header":"RPC-REQ","value":{"service":"calc","service":"x","rpc":"add","arguments":[],"argument-types":[],"return-types":[]}}"#,  // repeated key
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":null,"argument-types":[],"return-types":[]}}"#,
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[1],"return-types":[]}}"#,
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[]}}"#,  // missing return-types
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[],"return-types":[],"timeout":-1}}"#,
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[],"return-types":[],"id":[1]}}"#,
            #"{"header":"LS-REQ","value":{}}"#,
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[],"return-types":[]}} x"#,
            #"{"header":"RPC-REQ","value":{"service":"calc","rpc":"add","arguments":[],"argument-types":[],"return-types":[]}"#,  // unterminated
            #"[1]"#,
        ]
        for text in refused {
            XCTAssertNil(fast(text), text)
        }
    }
}
