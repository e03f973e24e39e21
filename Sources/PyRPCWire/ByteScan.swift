import CLinux

/// Searches over message text many bytes at a time: SSE2 vectors for `firstStructural`
/// (in C), words for the rest (SWAR: SIMD within a register), sixteen bytes a round with one
/// branch.
///
/// Megabyte messages are mostly digits, commas and string bodies; looking at them one byte at
/// a time was the network thread's largest cost on a 100,000-float call. Each function returns
/// the offset of the first byte that *might* matter, never skipping one that does: the
/// zero-byte tests (`x - 0x01…` and `~x`, per byte) can report a false hit just after a real
/// one, never a false miss, and callers re-check byte by byte from where it stops. (Swift's
/// generic `SIMD16` was tried here: not specialized, it ran eight times slower.)
public enum ByteScan {
    @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The top bit of each byte of `word` that is zero (and maybe of the byte after one).
    @inlinable @inline(__always) static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- ones) & ~word & highBits
    }

    /// The first offset from `start` that holds `[`, `]`, `{`, `}` or `"`; `bytes.count` if
    /// none. In C with SSE2 (`pyrpc_first_structural`): a list of numbers is megabytes of
    /// neither, and this scan was 5% of a 100,000-float JSON call's CPU word by word.
    @inlinable public static func firstStructural(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard start < bytes.count, let base = bytes.baseAddress else { return start }
        return pyrpc_first_structural(base.assumingMemoryBound(to: UInt8.self), start, bytes.count)
    }

    /// Nonzero when some byte of `word` may be `"`, `\` or a control character.
    @inlinable @inline(__always) static func stringSpecialBytes(_ word: UInt64) -> UInt64 {
        // A byte below 0x20 borrows when 0x20 is subtracted; bytes ≥ 0x80 are masked by ~word.
        let control = (word &- ones &* 0x20) & ~word & highBits
        return control | zeroBytes(word ^ (ones &* UInt64(UInt8(ascii: "\"")))) | zeroBytes(word ^ (ones &* UInt64(UInt8(ascii: "\\"))))
    }

    /// True when every byte is below 0x80.
    @inlinable public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        var seen: UInt64 = 0
        while index + 8 <= bytes.count {
            seen |= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            seen |= UInt64(bytes[index])
            index += 1
        }
        return seen & highBits == 0
    }

    /// The first offset from `start` holding `"`, `\` or a control character (< 0x20); `bytes.count` if none.
    @inlinable public static func firstStringSpecial(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        // Sixteen bytes a round, one branch: strings run long.
        while index + 16 <= bytes.count {
            let first = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let second = bytes.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)
            if (stringSpecialBytes(first) | stringSpecialBytes(second)) != 0 { break }
            index += 16
        }
        while index + 8 <= bytes.count {
            if stringSpecialBytes(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) != 0 { break }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            index += 1
        }
        return index
    }
}
