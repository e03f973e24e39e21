#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Foundation
import NIOCore
import PyRPCWire
import Synchronization

/// A worker process leaving without dropping a call (`pyrpc serve --processes N`): recycled,
/// replaced on SIGHUP, or dying of a crashed call, it stops reading, and passes each client
/// connection — the socket, with what it read and did not answer — to its supervisor, which
/// gives it to another worker. The client sees nothing: its next answers come from the new
/// worker, in order.
extension IOLoop {
    /// The worker leaves (`Mailbox.Item.handOver`).
    func beginHandOver() {
        assertLeads()
        guard !handingOver else { return }
        handingOver = true
        stoppedFraming.store(true, ordering: .releasing)
        // What paused connections hold unframed travels with them.
        for connection in paused { connection.paused = false }
        paused = []
        for case let connection? in connections where !connection.isClosed { updateInterest(connection) }
        handOverSettled()
    }

    /// Hands over every connection that owes no call in flight. A connection whose client
    /// half-closed is not handed over: it needs nothing more read, and ends here once answered.
    func handOverSettled() {
        assertLeads()
        guard let link = core.supervisor.withLockedValue({ $0 }) else { return resumeReading() }
        for case let connection? in connections where !connection.isClosed && !connection.inputClosed {
            guard let items = connection.owed() else { continue }
            if connection.tls != nil {
                sayGoAway(connection)
                continue
            }
            let transfer = ConnectionTransfer(
                peer: connection.peer, items: items, input: connection.inbound.map { Data($0.readableBytesView) } ?? Data(),
                skippingOversize: connection.framer.isSkipping, encoding: connection.encoding, descriptor: connection.fd)
            guard link.send(.handOver(transfer)) else { return resumeReading() }
            // Out of this epoll set by hand: the socket lives on in other processes, and an
            // epoll registration lasts as long as the socket, not this descriptor.
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, connection.fd, nil)
            if core.logsDebug { core.logger.debug("handed over a connection from \(connection.peer) (\(items.count) answers or requests owed, \(transfer.input.count) bytes unread)") }
            close(connection)
        }
    }

    /// A TLS session cannot move to another process: once no call of the connection is in
    /// flight, its answers are followed by GOAWAY naming the last request read, and the
    /// connection ends here (close_notify) once that is written. pyrpc's clients send the
    /// requests after it again on a new connection; what arrived after it is dropped unread.
    private func sayGoAway(_ connection: Connection) {
        if !connection.saidGoAway {
            connection.saidGoAway = true
            let goAway = Envelope(header: Header.goAway, value: [
                "last-request": .int(connection.sent),
                "reason": .string("this worker of server \(core.name) is leaving; send the requests after the last one answered again on a new connection"),
            ])
            connection.append(connection.encoding == .messagePack ? goAway.messagePackFrame() : goAway.encoded())
            write(connection)
        }
        if !connection.isClosed, !connection.hasOutput { close(connection) }
    }

    /// The supervisor is gone: nobody can take the connections, so this worker serves them
    /// until it stops, as it would have without a hand-over.
    private func resumeReading() {
        handingOver = false
        for case let connection? in connections where !connection.isClosed { updateInterest(connection) }
    }

    /// A connection another worker handed over: its owed answers are queued, its unrun
    /// requests run here, and its unread input is framed as if it had just arrived.
    func adopt(_ transfer: ConnectionTransfer) {
        assertLeads()
        openConnections.subtract(1, ordering: .relaxed)  // counted since it was posted; `insert` counts it again
        let fd = pyrpc_fd_above_stdio(transfer.descriptor)
        guard fd >= 0 else { return }
        if core.limits.admit(transfer.peer, handedOver: true) != nil {
            Glibc.close(fd)  // over --max-connections here: as a new connection would be
            return
        }
        let connection = insert(fd, peer: transfer.peer, skippingOversize: transfer.skippingOversize)
        connection.encoding = transfer.encoding
        updateInterest(connection)  // reading unless this worker is handing over too
        for item in transfer.items {
            switch item {
            case .answer(let bytes):
                deliver(Array(bytes), sequence: connection.nextSequence(), to: connection)
            case .request(let bytes) where handingOver:
                connection.unrun[connection.nextSequence()] = Array(bytes)  // this worker leaves too: on it goes
            case .request(let bytes):
                var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
                buffer.writeBytes(bytes)
                answer(.message(buffer), on: connection, encoding: .json)  // given back as JSON, whatever the connection speaks
            }
            if connection.isClosed { return }
        }
        guard !transfer.input.isEmpty else { return }
        var buffer = ByteBufferAllocator().buffer(capacity: max(transfer.input.count, 4096))
        buffer.writeBytes(transfer.input)
        if !handingOver { frame(&buffer, of: connection) }
        if !connection.isClosed, buffer.readableBytes > 0 {
            connection.inbound = buffer
            account(connection, startingMessage: true)
        }
    }
}
