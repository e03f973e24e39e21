import XCTest
@testable import PyRPCWire

/// Arguments are copied unless they are large and something keeps the memory they lie in.
final class ArgumentBytesTests: XCTestCase {
    final class Keeper: Sendable {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    func testLargeArgumentsWithAKeeperAreReadInPlaceAndOthersCopied() {
        let large = Keeper((0..<ArgumentBytes.sharedFromBytes).map { UInt8(truncatingIfNeeded: $0) })
        let small = Keeper(Array("[1, 2]".utf8))
        large.bytes.withUnsafeBytes { raw in
            let kept = ArgumentBytes(raw, keeper: large)
            XCTAssertTrue(kept.isShared)
            kept.withUnsafeBytes { XCTAssertEqual($0.baseAddress, raw.baseAddress, "read where it lies") }
            XCTAssertEqual(kept, ArgumentBytes(large.bytes))
            XCTAssertEqual(kept.count, large.bytes.count)
            // Without a keeper, or one byte short of the threshold, the bytes are copied.
            XCTAssertFalse(ArgumentBytes(raw, keeper: nil).isShared)
            let shorter = ArgumentBytes(UnsafeRawBufferPointer(rebasing: raw.dropLast()), keeper: large)
            XCTAssertFalse(shorter.isShared)
            shorter.withUnsafeBytes { XCTAssertNotEqual($0.baseAddress, raw.baseAddress) }
            XCTAssertEqual(shorter.array, Array(large.bytes.dropLast()))
            XCTAssertNotEqual(shorter, kept)
        }
        small.bytes.withUnsafeBytes { raw in
            XCTAssertFalse(ArgumentBytes(raw, keeper: small).isShared)
            XCTAssertEqual(ArgumentBytes(raw, keeper: small).array, small.bytes)
        }
    }
}
