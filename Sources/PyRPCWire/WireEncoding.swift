/// How one connection's messages are written, both ways, for its whole life: JSON lines (the
/// course protocol, and any client that sends JSON), or MessagePack frames, which a client
/// chooses by sending one byte 0x00 first (a JSON message never starts with it).
public enum WireEncoding: String, Codable, Sendable {
    case json
    case messagePack

    /// The byte a client sends first to choose MessagePack.
    public static let messagePackMark: UInt8 = 0x00

    /// What a connection's first byte chooses: MessagePack for 0x00, JSON for a byte a JSON
    /// text may begin with (a value or whitespace), nil for anything else: no message of
    /// either encoding can start so, and waiting for more would only delay the refusal.
    public static func chosen(by first: UInt8) -> WireEncoding? {
        switch first {
        case messagePackMark: return .messagePack
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"),
             UInt8(ascii: "\r"):
            return .json
        default: return nil
        }
    }

    /// Why a connection that starts with `first` (which `chosen(by:)` refused) is closed.
    public static func refusal(firstByte first: UInt8) -> String {
        "a connection's first byte must begin a JSON message ('{') or be 0x00 to choose MessagePack, not \(MessagePackScanner.hex(first))"
    }
}
