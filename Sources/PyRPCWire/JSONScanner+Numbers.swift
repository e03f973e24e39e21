import CLinux
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Numbers: integers of any size (exact, as `bigInt` text beyond `Int`) and doubles.
extension JSONScanner {

    public mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var negative = false
        if current == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let integerStart = index
        guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else {
            throw error("expected a digit")
        }
        // Accumulate up to 19 significant digits; they fit a UInt64 and serve both paths.
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var droppedDigits = 0
        /// Fraction digits past the 19 kept: the mantissa is then not the number's.
        var truncatedFraction = false
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
                    significantDigits += 1
                } else {
                    droppedDigits += 1
                }
                index += 1
            }
        }
        let integerEnd = index
        var isFloat = false
        var fractionDigits = 0
        if current == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            let fractionStart = index
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if significantDigits < 19 {
                    if mantissa != 0 || byte != UInt8(ascii: "0") { significantDigits += 1 }
                    mantissa = mantissa &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
                    fractionDigits += 1
                } else {
                    truncatedFraction = true
                }
                index += 1
            }
            guard index > fractionStart else { throw error("expected a digit after the decimal point") }
        }
        var exponent = 0
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            var exponentNegative = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") {
                exponentNegative = current == UInt8(ascii: "-")
                index += 1
            }
            let exponentStart = index
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if exponent < 100_000 { exponent = exponent * 10 + Int(byte - UInt8(ascii: "0")) }
                index += 1
            }
            guard index > exponentStart else { throw error("expected a digit in the exponent") }
            if exponentNegative { exponent = -exponent }
        }

        if !isFloat {
            if droppedDigits == 0 {
                if negative {
                    if mantissa <= UInt64(Int.max) + 1 {
                        return .int(mantissa == UInt64(Int.max) + 1 ? Int.min : -Int(mantissa))
                    }
                } else if mantissa <= UInt64(Int.max) {
                    return .int(Int(mantissa))
                }
            }
            let digits = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[integerStart..<integerEnd]), as: UTF8.self)
            return .bigInt(negative ? "-" + digits : digits)
        }

        // Every digit is in the mantissa: read it without strtod when that is exact.
        if droppedDigits == 0, !truncatedFraction, let value = decimalToDouble(mantissa, exponent - fractionDigits, negative: negative) {
            return .float(value)
        }
        return .float(try slowDouble(start: start))
    }

    fileprivate func slowDouble(start: Int) throws(JSONParseError) -> Double {
        let length = index - start
        let value: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            for offset in 0..<length { buffer[offset] = CChar(bitPattern: bytes[start + offset]) }
            buffer[length] = 0
            var end: UnsafeMutablePointer<CChar>?
            // In the "C" locale: a script's setlocale must not change how numbers read.
            let parsed = pyrpc_strtod_c(buffer.baseAddress!, &end)
            return end == buffer.baseAddress! + length ? parsed : nil
        }
        guard let value else { throw JSONParseError(offset: start, reason: "number out of range") }
        return value
    }
}
