import NIOCore

/// Keeps a message's buffer alive while its call reads large arguments in place
/// (`ArgumentBytes`). A `ByteBuffer` whose storage is still referenced here is copied
/// before anyone writes to it again (the connection reading its next message, say), so the
/// bytes the call reads stay as they arrived.
final class MessageKeeper: Sendable {
    let message: ByteBuffer

    init(_ message: ByteBuffer) {
        self.message = message
    }
}
