import Foundation

/// A client connection on its way from one worker process to another (`pyrpc serve
/// --processes N`), through their supervisor: a worker that leaves — recycled, replaced on
/// SIGHUP, or dying of a crashed call — hands each connection over instead of closing it, so
/// its client sees no error and need not reconnect. The socket itself travels beside this
/// message (SCM_RIGHTS); this is what the old worker had read of it and not finished.
public struct ConnectionTransfer: Codable, Sendable, Equatable {
    /// What the old worker owed the client, in the connection's order.
    public enum Item: Codable, Sendable, Equatable {
        /// An answer ready to be written (or the rest of one partly written).
        case answer(Data)
        /// A request the old worker read but never ran: the new worker runs it.
        case request(Data)
    }

    /// The client's IP address, as authorisation knows it.
    public var peer: String
    public var items: [Item]
    /// Bytes read from the socket but not yet framed into messages: the start of the next ones.
    public var input: Data
    /// The old worker was discarding a line over the message limit up to its newline.
    public var skippingOversize: Bool
    /// The connection's encoding, once its first byte chose it (`WireEncoding`).
    public var encoding: WireEncoding?
    /// The socket, in the process holding the message; -1 once it is gone (never encoded:
    /// the kernel passes it, see `ControlChannel`).
    public var descriptor: Int32 = -1

    public init(peer: String, items: [Item], input: Data, skippingOversize: Bool, encoding: WireEncoding? = nil, descriptor: Int32) {
        self.peer = peer
        self.items = items
        self.input = input
        self.skippingOversize = skippingOversize
        self.encoding = encoding
        self.descriptor = descriptor
    }

    private enum CodingKeys: String, CodingKey {
        case peer, items, input, skippingOversize, encoding
    }
}
