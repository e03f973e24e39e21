/// A request's `arguments` list unparsed (JSON text or MessagePack bytes), read into Python
/// objects when the call runs.
///
/// Most are a few bytes, copied out of the message. A large one is not copied: it is read in
/// place, in the buffer the message arrived in, which `keeper` keeps alive. That buffer is
/// never written again while kept (a buffer that is still referenced elsewhere is copied
/// before it is written, as a NIO `ByteBuffer` is), so the bytes stay as they arrived.
/// Copying was 3% of the server's CPU on a call with 100,000 floats, and the copy doubled the
/// memory such a call holds.
public struct ArgumentBytes: Sendable, Equatable {
    /// From this size on, arguments are read in place when the message's buffer can be kept.
    /// (Inlinable: the server compares every message's size with it, and a stored static
    /// would be reached through its lazy initializer from another module.)
    @inlinable public static var sharedFromBytes: Int { 64 << 10 }

    @usableFromInline enum Storage: @unchecked Sendable {
        case copied([UInt8])
        /// `bytes` lie in memory that `keeper` owns and nobody writes while it lives.
        case shared(keeper: AnyObject, bytes: UnsafeRawBufferPointer)
    }

    @usableFromInline let storage: Storage

    public init(_ bytes: [UInt8]) {
        storage = .copied(bytes)
    }

    /// `bytes` copied, or, if they are large and `keeper` keeps the memory they lie in
    /// unchanged for as long as it lives, kept where they are.
    public init(_ bytes: UnsafeRawBufferPointer, keeper: (AnyObject & Sendable)?) {
        if let keeper, bytes.count >= Self.sharedFromBytes {
            storage = .shared(keeper: keeper, bytes: bytes)
        } else {
            storage = .copied(Array(bytes))
        }
    }

    public var count: Int {
        switch storage {
        case .copied(let bytes): bytes.count
        case .shared(_, let bytes): bytes.count
        }
    }

    /// Whether the bytes are read in place (for tests).
    public var isShared: Bool {
        if case .shared = storage { return true }
        return false
    }

    /// Inlinable: the readers call it for every request, and a generic call across modules
    /// looked up type metadata at run time each time.
    @inlinable
    public func withUnsafeBytes<Result, Failure: Error>(_ body: (UnsafeRawBufferPointer) throws(Failure) -> Result) throws(Failure) -> Result {
        switch storage {
        case .copied(let bytes):
            // An array's own closure cannot throw a typed error through: take the pointer out.
            let result: Swift.Result<Result, Failure> = bytes.withUnsafeBytes { raw in
                do throws(Failure) { return .success(try body(raw)) } catch { return .failure(error) }
            }
            return try result.get()
        case .shared(let keeper, let bytes):
            return try withExtendedLifetime(keeper) { () throws(Failure) -> Result in try body(bytes) }
        }
    }

    /// A copy, for the rare paths that read the arguments as values.
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }

    public static func == (left: ArgumentBytes, right: ArgumentBytes) -> Bool {
        left.withUnsafeBytes { a in right.withUnsafeBytes { b in a.elementsEqual(b) } }
    }
}
