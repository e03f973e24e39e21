/// Fast paths for the numbers RPC arguments are mostly made of, read without building a
/// `JSONValue`. Each accepts only spellings whose value it can compute exactly the way
/// `JSONScanner.parseNumber` does; for anything else it leaves the scanner where it was, and
/// the caller falls back to `parseNumber`, so both paths accept and reject the same input.
///
/// The list loops keep their cursor in a register for a whole list: going through `index`
/// and `current` for every byte cost four times as much on a list of 100,000 floats.
extension JSONScanner {
    /// An optional minus, digits (no leading zero) and an optional fraction, at most 19
    /// digits in all, no exponent. `end` is where the spelling stops.
    @usableFromInline struct PlainNumber {
        @usableFromInline var mantissa: UInt64
        @usableFromInline var digits: Int
        @usableFromInline var fractionDigits: Int
        @usableFromInline var negative: Bool
        @usableFromInline var end: UnsafePointer<UInt8>

        @inlinable init(mantissa: UInt64, digits: Int, fractionDigits: Int, negative: Bool, end: UnsafePointer<UInt8>) {
            self.mantissa = mantissa
            self.digits = digits
            self.fractionDigits = fractionDigits
            self.negative = negative
            self.end = end
        }

        /// Exactly `Double(text)` (see `decimalToDouble`).
        @inlinable @inline(__always) var double: Double? {
            // An integer spelling is an integer first: `-0` is 0, not -0.0 (as in parseNumber and json.loads).
            if mantissa == 0, fractionDigits == 0 { return 0 }
            return decimalToDouble(mantissa, -fractionDigits, negative: negative)
        }

        /// An integer of at most 18 digits, which always fits an `Int`.
        @inlinable @inline(__always) var int: Int? {
            guard fractionDigits == 0, digits <= 18 else { return nil }
            return negative ? -Int(mantissa) : Int(mantissa)
        }
    }

    @inlinable @inline(__always)
    static func plainNumber(at start: UnsafePointer<UInt8>, before end: UnsafePointer<UInt8>) -> PlainNumber? {
        var cursor = start
        guard cursor < end else { return nil }
        let negative = cursor.pointee == UInt8(ascii: "-")
        if negative { cursor += 1 }
        let integerStart = cursor
        var mantissa: UInt64 = 0
        readDigits(&cursor, before: end, into: &mantissa)
        let integerDigits = cursor - integerStart
        // No digits, or a leading zero such as `012` (invalid JSON: parseNumber says so).
        guard integerDigits > 0, integerDigits == 1 || integerStart.pointee != UInt8(ascii: "0") else { return nil }
        var fractionDigits = 0
        if cursor < end, cursor.pointee == UInt8(ascii: ".") {
            cursor += 1
            let fractionStart = cursor
            readDigits(&cursor, before: end, into: &mantissa)
            fractionDigits = cursor - fractionStart
            guard fractionDigits > 0 else { return nil }
        }
        let digits = integerDigits &+ fractionDigits
        guard digits <= 19 else { return nil }
        if cursor < end, cursor.pointee | 0x20 == UInt8(ascii: "e") { return nil }
        return PlainNumber(mantissa: mantissa, digits: digits, fractionDigits: fractionDigits, negative: negative, end: cursor)
    }

    /// Appends the digits at `cursor` to `mantissa` (wrapping past 19 digits: the caller
    /// counts them), a word of eight bytes at a time while eight remain: a double printed in
    /// full has 15 to 17 digits, in runs of any length before and after its point, so the
    /// last digits of a run are read from the same word as the byte that ends it, without a
    /// branch per digit (as in `fast_float`).
    @inlinable @inline(__always)
    static func readDigits(_ cursor: inout UnsafePointer<UInt8>, before end: UnsafePointer<UInt8>, into mantissa: inout UInt64) {
        while end - cursor >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(cursor).loadUnaligned(as: UInt64.self))
            let count = leadingDigitCount(word)
            guard count == 8 else {
                if count > 0 {
                    mantissa = mantissa &* powerOfTen(count) &+ digitsValue(word &<< UInt64(64 &- 8 &* count))
                    cursor += count
                }
                return
            }
            mantissa = mantissa &* 100_000_000 &+ digitsValue(word)
            cursor += 8
        }
        while cursor < end {
            let digit = cursor.pointee &- UInt8(ascii: "0")
            if digit > 9 { break }
            mantissa = mantissa &* 10 &+ UInt64(digit)
            cursor += 1
        }
    }

    /// How many of the word's bytes, in memory order, are ASCII digits before the first
    /// that is not (8 when all are). A byte's high bit in `flagged` is set when it is below
    /// "0" or above "9"; no carry or borrow crosses a digit, so the lowest flag is exact.
    @inlinable @inline(__always)
    static func leadingDigitCount(_ word: UInt64) -> Int {
        let flagged = ((word &+ 0x4646_4646_4646_4646) | (word &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080
        return flagged.trailingZeroBitCount &>> 3
    }

    /// The number whose decimal digits are the word's bytes' low nibbles, the first byte in
    /// memory the most significant (in-register arithmetic, as in `fast_float`). Shifting a
    /// word left by whole bytes puts zeros before its digits, which leaves the value alone.
    @inlinable @inline(__always)
    static func digitsValue(_ word: UInt64) -> UInt64 {
        var value = word & 0x0F0F_0F0F_0F0F_0F0F
        value = value &* 10 &+ (value >> 8)  // pairs of digits
        value = ((value & 0x0000_00FF_0000_00FF) &* 0x000F_4240_0000_0064
            &+ ((value >> 16) & 0x0000_00FF_0000_00FF) &* 0x0000_2710_0000_0001) >> 32
        return value & 0xFFFF_FFFF
    }

    /// 10^count for the 1 to 7 digits of a partial word.
    @inlinable @inline(__always)
    static func powerOfTen(_ count: Int) -> UInt64 {
        switch count {
        case 1: 10
        case 2: 100
        case 3: 1_000
        case 4: 10_000
        case 5: 100_000
        case 6: 1_000_000
        default: 10_000_000
        }
    }

    @inlinable @inline(__always)
    static func skipWhitespace(_ cursor: inout UnsafePointer<UInt8>, before end: UnsafePointer<UInt8>) {
        while cursor < end {
            switch cursor.pointee {
            case 0x20, 0x0A, 0x0D, 0x09: cursor += 1
            default: return
            }
        }
    }

    @inlinable var startPointer: UnsafePointer<UInt8>? { bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) }

    /// The number at the scanner as a `Double`, if it is a plain one (see `PlainNumber`).
    @inlinable public mutating func scanPlainDouble() -> Double? { scanPlain { $0.double } }

    /// The number at the scanner as an `Int`, if it is a plain integer of at most 18 digits.
    @inlinable public mutating func scanPlainInt() -> Int? { scanPlain { $0.int } }

    @inlinable @inline(__always)
    mutating func scanPlain<T>(_ convert: (PlainNumber) -> T?) -> T? {
        guard let base = startPointer,
              let number = Self.plainNumber(at: base + index, before: base + bytes.count),
              let value = convert(number) else { return nil }
        index = number.end - base
        return value
    }

    /// Inside a list, at a value: reads plain numbers as doubles and the separators after
    /// them, passing each to `body`. Returns true when it consumed the list's `]`; false with
    /// the scanner at the start of a value that needs the general path (which then also
    /// reads the separator after it).
    @inlinable public mutating func scanPlainDoubles<E: Error>(_ body: (Double) throws(E) -> Void) throws(E) -> Bool {
        try scanPlainList(body)
    }

    /// As `scanPlainDoubles`, for integers of at most 18 digits.
    @inlinable public mutating func scanPlainInts<E: Error>(_ body: (Int) throws(E) -> Void) throws(E) -> Bool {
        try scanPlainList(body)
    }

    /// The list loop, for doubles or ints. The conversion is the type's (`PlainReadable`), not
    /// a closure: a closure was called out of line for each of 100,000 numbers.
    @inlinable @inline(__always)
    mutating func scanPlainList<T: PlainReadable, E: Error>(_ body: (T) throws(E) -> Void) throws(E) -> Bool {
        guard let base = startPointer else { return false }
        let end = base + bytes.count
        var cursor = base + index
        defer { index = cursor - base }
        while true {
            Self.skipWhitespace(&cursor, before: end)
            guard let number = Self.plainNumber(at: cursor, before: end), let value = T(plain: number) else { return false }
            // Take the value only together with the separator after it, so that on failure
            // the general path starts cleanly at this value.
            var next = number.end
            Self.skipWhitespace(&next, before: end)
            guard next < end, next.pointee == UInt8(ascii: ",") || next.pointee == UInt8(ascii: "]") else { return false }
            try body(value)
            cursor = next + 1
            if next.pointee == UInt8(ascii: "]") { return true }
        }
    }
}

/// A type a plain number is read as by the list fast path.
@usableFromInline protocol PlainReadable {
    init?(plain number: JSONScanner.PlainNumber)
}

extension Double: PlainReadable {
    @inlinable @inline(__always) init?(plain number: JSONScanner.PlainNumber) {
        guard let value = number.double else { return nil }
        self = value
    }
}

extension Int: PlainReadable {
    @inlinable @inline(__always) init?(plain number: JSONScanner.PlainNumber) {
        guard let value = number.int else { return nil }
        self = value
    }
}
