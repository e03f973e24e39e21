import PyRPCWire
import XCTest

/// Scripts larger than a message: the deployer's plan cuts them into DEPLOY-PIECES messages
/// under a byte budget, and the server's assembly puts them back together, whole only once
/// their SHA-256 says so.
final class DeployPieceTests: XCTestCase {
    /// Every message of a plan fits its budget as written, pieces end on character
    /// boundaries, and the pieces read back put every script together again.
    func testPlansFitTheirBudgetAndReassemble() throws {
        var random = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "b", " ", "\n", "\t", "\"", "\\", "\u{01}", "é", "漢", "😀", "\u{7F}"]
        for round in 0..<40 {
            let scripts = (0..<Int.random(in: 1...4, using: &random)).map { _ in
                String((0..<Int.random(in: 0...6000, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined())
            }
            let budget = Int.random(in: DeployPlan.smallestBudget...8192, using: &random)
            let planned = scripts.map { DeployPlan.Script(hash: ScriptHash.sha256($0), text: $0) }
            let plan = try DeployPlan(planned, server: "s1", token: round % 2 == 0 ? nil : "secret", budget: budget)
            var assembly = ScriptAssembly(limit: 1 << 20)
            for message in plan.messages {
                let bytes = message.envelope.encoded()
                XCTAssertLessThanOrEqual(bytes.count, budget, "a message passed its budget")
                let read = try DeployPieces(Envelope(message: JSONParser.parse(Array(bytes.dropLast()))))
                XCTAssertEqual(read, message)
                for piece in read.pieces { _ = try assembly.receive(piece, now: .now) }
            }
            for script in scripts {
                XCTAssertEqual(assembly.script(ScriptHash.sha256(script)), script)
            }
        }
    }

    /// A resumed plan starts where the server's copy ends.
    func testAResumedPlanStartsAtItsOffset() throws {
        let text = String(repeating: "x = 1\n", count: 1000)
        let hash = ScriptHash.sha256(text)
        let plan = try DeployPlan([DeployPlan.Script(hash: hash, text: text, from: 4000)], server: "s1", token: nil, budget: 1 << 20)
        XCTAssertEqual(plan.messages.flatMap(\.pieces).map(\.offset), [4000])
        XCTAssertEqual(plan.messages[0].pieces[0].text.utf8.count, 2000)
    }

    func testATooSmallBudgetIsRefused() {
        XCTAssertThrowsError(try DeployPlan([DeployPlan.Script(hash: String(repeating: "0", count: 64), text: "x")], server: "s1", token: nil, budget: 100))
    }

    /// Out of order, a script changed half-way, or over the limit: refused, and nothing
    /// counts as whole that was not verified.
    func testTheAssemblyKeepsOnlyVerifiedWholeScripts() throws {
        let text = String(repeating: "print('é')\n", count: 100)
        let hash = ScriptHash.sha256(text)
        let utf8 = Array(text.utf8)
        func piece(_ range: Range<Int>, hash: String = hash, of bytes: [UInt8] = utf8) -> ScriptPiece {
            ScriptPiece(hash: hash, size: bytes.count, offset: range.lowerBound, text: String(decoding: bytes[range], as: UTF8.self))
        }
        var assembly = ScriptAssembly(limit: 4096)
        // Lines of 12 bytes: cuts at multiples of 12 fall between characters.
        XCTAssertEqual(try assembly.receive(piece(0..<504), now: .now), 504)
        XCTAssertNil(assembly.script(hash))
        let held = try XCTUnwrap(assembly.held(hash))
        XCTAssertEqual(held, PartialScript(bytes: 504, sha256: ScriptHash.sha256(bytes: utf8[..<504])))
        // A gap: refused, and what was held stays.
        XCTAssertThrowsError(try assembly.receive(piece(612..<708), now: .now)) { error in
            XCTAssertTrue((error as? RPCError)?.message.contains("holds 504 bytes") == true, "\(error)")
        }
        XCTAssertEqual(assembly.held(hash)?.bytes, 504)
        XCTAssertEqual(try assembly.receive(piece(504..<utf8.count), now: .now), utf8.count)
        XCTAssertEqual(assembly.script(hash), text)
        XCTAssertNil(assembly.held(hash))

        // Whole bytes whose SHA-256 is not the hash named: refused and dropped.
        let other = Array(String(repeating: "print('e')\n", count: 100).utf8)
        let wrong = String(repeating: "1", count: 64)
        XCTAssertEqual(try assembly.receive(piece(0..<100, hash: wrong, of: other), now: .now), 100)
        XCTAssertThrowsError(try assembly.receive(piece(100..<other.count, hash: wrong, of: other), now: .now))
        XCTAssertNil(assembly.script(wrong))
        XCTAssertNil(assembly.held(wrong))

        // Over the limit: the script alone, or with what is held.
        XCTAssertThrowsError(try assembly.receive(ScriptPiece(hash: wrong, size: 5000, offset: 0, text: "x"), now: .now)) { error in
            XCTAssertTrue((error as? RPCError)?.message.contains("--max-deploy-bytes (4096)") == true, "\(error)")
        }
        XCTAssertThrowsError(try assembly.receive(ScriptPiece(hash: wrong, size: 4000, offset: 0, text: String(repeating: "x", count: 3500)), now: .now))
        // Untouched past its patience, what was held makes room.
        let later = ContinuousClock.now + .seconds(3600)
        XCTAssertEqual(try assembly.receive(ScriptPiece(hash: wrong, size: 4000, offset: 0, text: String(repeating: "x", count: 3500)), now: later), 3500)
        XCTAssertNil(assembly.script(hash))
    }

    /// A piece that does not fit its own script is a Bad Request as it is read.
    func testMalformedPiecesAreBadRequests() {
        let hash = String(repeating: "a", count: 64)
        for value in [
            #"{"header":"DEPLOY-PIECES","value":{"server":"s1","pieces":[{"hash":"\#(hash)","size":3,"offset":2,"text":"ab"}]}}"#,
            #"{"header":"DEPLOY-PIECES","value":{"server":"s1","pieces":[{"hash":"ABC","size":3,"offset":0,"text":"ab"}]}}"#,
            #"{"header":"DEPLOY-PIECES","value":{"server":"s1","pieces":[{"hash":"\#(hash)","size":-1,"offset":0,"text":""}]}}"#,
            #"{"header":"DEPLOY-PIECES","value":{"server":"s1","pieces":{}}}"#,
        ] {
            XCTAssertThrowsError(try DeployPieces(Envelope(message: JSONParser.parse(Array(value.utf8))))) { error in
                XCTAssertEqual((error as? RPCError)?.type, .badRequest, value)
            }
        }
    }
}
