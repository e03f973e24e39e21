import Crypto

/// Scripts are identified by the SHA-256 of their UTF-8 text, in lowercase hex.
public enum ScriptHash {
    public static func sha256(_ text: String) -> String {
        sha256(bytes: Array(text.utf8))
    }

    public static func sha256<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        // Arrays and slices are hashed in place (a whole script may be tens of megabytes).
        if bytes.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
            hasher.update(data: Array(bytes))
        }
        return hex(hasher.finalize())
    }

    /// 64 lowercase hex digits: the only hashes a server looks up or keeps.
    public static func isWellFormed(_ hash: String) -> Bool {
        hash.utf8.count == 64 && hash.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
