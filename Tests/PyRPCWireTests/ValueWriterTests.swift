import XCTest
@testable import PyRPCWire

/// Whole arrays written at once (`doubleList`, `float64s`) and the room asked for them
/// (`reserve`): the same bytes as element by element, and an answer's buffer that does not
/// grow while an array it reserved for is written.
final class ValueWriterTests: XCTestCase {
    /// Rows longer than the writer's stack chunk (256), read forwards, backwards and every
    /// other element, as numpy views are.
    func testFloat64sAreTheBytesOfEachFloat64() {
        var random = SystemRandomNumberGenerator()
        let values = (0..<1_000).map { index -> Double in
            index % 7 == 0 ? [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude][index % 5] : Double(bitPattern: random.next())
        }
        values.withUnsafeBytes { memory in
            let last = memory.baseAddress! + 8 * (values.count - 1)
            for (start, count, stride) in [(memory.baseAddress!, 1_000, 8), (last, 1_000, -8), (memory.baseAddress!, 500, 16), (memory.baseAddress!, 256, 8), (memory.baseAddress!, 257, 8), (memory.baseAddress!, 0, 8)] {
                var whole = MessagePackWriter()
                whole.string("before")
                whole.float64s(at: start, count: count, stride: stride)
                var single = MessagePackWriter()
                single.string("before")
                for index in 0..<count { single.float64(start.advanced(by: index * stride).loadUnaligned(as: Double.self)) }
                XCTAssertEqual(whole.bytes, single.bytes, "\(count) float64s \(stride) bytes apart")
            }
        }
    }

    /// Doubles whose text is the longest there is fill the reserved room and no more: the
    /// buffer is the one reserved, to the closing bytes of the answer.
    func testReservedRoomHoldsAnArrayOfTheLongestNumbers() throws {
        let longest = -2.2250738585072014e-308
        XCTAssertEqual(longest.description.utf8.count, JSONWriter.longestDouble)
        let rows = 300, columns = 300
        let values = [Double](repeating: longest, count: columns)

        var json = JSONWriter()
        json.raw("{\"header\":\"RPC-RES\",\"value\":{\"return-values\":[")
        let reserved = Self.writeReserved(rows: rows, of: values, into: &json, capacity: \.bytes.capacity)
        json.raw("]}}\n")
        XCTAssertEqual(json.bytes.capacity, reserved, "the JSON answer grew after its reservation")
        let parsed = try JSONParser.parse(Array(json.bytes.dropLast()))
        XCTAssertEqual(parsed["value"]?["return-values"]?.arrayValue?.first?.arrayValue?.count, rows)

        var messagePack = MessagePackWriter()
        messagePack.string("return-values")
        let reservedMessagePack = Self.writeReserved(rows: rows, of: values, into: &messagePack, capacity: \.bytes.capacity)
        XCTAssertEqual(messagePack.bytes.capacity, reservedMessagePack, "the MessagePack answer grew after its reservation")
        XCTAssertGreaterThanOrEqual(reservedMessagePack - (1 + 14 + 3 + rows * (3 + 9 * columns)), 0)
    }

    /// Reserves room for `rows` copies of `values` as a list of lists, writes them, and
    /// returns the capacity the reservation gave.
    private static func writeReserved<Writer: ValueWriter>(
        rows: Int, of values: [Double], into writer: inout Writer, capacity: KeyPath<Writer, Int>
    ) -> Int {
        writer.reserve(numbers: rows * values.count, longestText: JSONWriter.longestDouble, lists: 1 + rows)
        let reserved = writer[keyPath: capacity]
        values.withUnsafeBytes { row in
            writer.beginList(count: rows)
            for index in 0..<rows {
                if index > 0 { writer.listSeparator() }
                writer.doubleList(at: row.baseAddress!, count: values.count, stride: 8)
            }
            writer.endList()
        }
        return reserved
    }

    /// Asking for room row by row grows the buffer by doubling, as appending does, not by
    /// exactly each row (which would copy the whole answer once per row).
    func testRoomAskedRowByRowDoublesTheBuffer() {
        var writer = JSONWriter(capacity: 1_000)
        var capacities: Set<Int> = []
        let row = [UInt8](repeating: 0x30, count: 250)
        for _ in 0..<1_000 {
            writer.reserve(numbers: 10, longestText: JSONWriter.longestDouble, lists: 1)
            row.withUnsafeBytes { writer.raw(bytes: $0) }
            capacities.insert(writer.bytes.capacity)
        }
        // 250,000 bytes from 1,000: about log2(250) doublings, not one growth per row.
        XCTAssertLessThanOrEqual(capacities.count, 12, "\(capacities.sorted())")
    }

    /// A broadcast view can claim 10^18 elements: the sizes saturate and the room asked for
    /// is bounded, instead of trapping on overflow or asking for all of it.
    func testHugeArraysAskForBoundedRoom() {
        XCTAssertEqual(ByteCount.product(Int.max / 2, 3), .max)
        XCTAssertEqual(ByteCount.sum(.max, 1), .max)
        XCTAssertEqual(ByteCount.product(1_000, 25), 25_000)
        var json = JSONWriter()
        json.reserve(numbers: .max, longestText: JSONWriter.longestDouble, lists: .max)
        XCTAssertGreaterThanOrEqual(json.bytes.capacity, ByteCount.largestReservation)
        XCTAssertLessThan(json.bytes.capacity, 2 * ByteCount.largestReservation)
        var messagePack = MessagePackWriter()
        messagePack.reserve(numbers: 1 << 62, longestText: 1, lists: 1 << 62)
        XCTAssertLessThan(messagePack.bytes.capacity, 2 * ByteCount.largestReservation)
    }
}
