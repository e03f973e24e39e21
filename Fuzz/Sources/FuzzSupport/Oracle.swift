import CFuzzDriver
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A differential oracle's verdict: two paths that must agree did not. Printed with the input
/// and turned into a crash, which libFuzzer saves as a reproducer.
public func mismatch(_ what: String, input: UnsafeRawBufferPointer) -> Never {
    let text = String(decoding: input.prefix(2000), as: UTF8.self)
    fputs("MISMATCH: \(what)\ninput (\(input.count) bytes): \(text.debugDescription)\n", stderr)
    abort()
}

/// Reads fuzz input as a little stream of choices, then the rest as bytes.
public struct FuzzInput {
    public var bytes: UnsafeRawBufferPointer
    public var index = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isEmpty: Bool { index >= bytes.count }

    public mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    public var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[min(index, bytes.count)...]) }
}

/// Runs libFuzzer with `callback` as the target (from a target's `<module>_main`).
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, callback)
}

/// Writes `text` to standard error as it is.
public func printError(_ text: String) {
    fputs(text, stderr)
}
