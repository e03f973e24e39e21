import Crypto

/// Scripts are identified by the SHA-256 of their UTF-8 text, in lowercase hex.
public enum ScriptHash {
    public static func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
