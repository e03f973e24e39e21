import NIOCore
import NIOConcurrencyHelpers
import PyRPCWire

/// The client's one persistent connection, opened on first use and reopened after it drops.
final class NIOLockedConnection: Sendable {
    private struct State {
        var pending: EventLoopFuture<LineConnection>?
        var established: LineConnection?
    }

    private let state = NIOLockedValueBox(State())
    private let tls: TLSConfiguration?
    /// The encoding asked for; nil: MessagePack, or JSON for a server found to speak only it.
    let encoding: WireEncoding?

    init(tls: TLSConfiguration?, encoding: WireEncoding?) {
        self.tls = tls
        self.encoding = encoding
    }

    private func future(host: String, port: Int, localAddress: String?) -> EventLoopFuture<LineConnection> {
        state.withLockedValue { state in
            if let established = state.established {
                if established.isActive { return established.channel.eventLoop.makeSucceededFuture(established) }
                state.established = nil
                state.pending = nil
            }
            if let pending = state.pending { return pending }
            let chosen = encoding ?? ServerEncodings.encoding(of: "\(host):\(port)", preferred: .messagePack)
            let fresh = LineConnection.connect(host: host, port: port, localAddress: localAddress, tls: tls, encoding: chosen)
            state.pending = fresh
            return fresh
        }
    }

    private func settle(_ future: EventLoopFuture<LineConnection>, _ result: Result<LineConnection, Error>) {
        state.withLockedValue { state in
            guard state.pending === future else { return }
            switch result {
            case .success(let connection): state.established = connection
            case .failure: state.pending = nil
            }
        }
    }

    func get(host: String, port: Int, localAddress: String?) async throws -> LineConnection {
        let pending = future(host: host, port: port, localAddress: localAddress)
        do {
            let connection = try await pending.get()
            settle(pending, .success(connection))
            return connection
        } catch {
            settle(pending, .failure(error))
            throw error
        }
    }

    func getBlocking(host: String, port: Int, localAddress: String?) throws -> LineConnection {
        let pending = future(host: host, port: port, localAddress: localAddress)
        do {
            let connection = try pending.wait()
            settle(pending, .success(connection))
            return connection
        } catch {
            settle(pending, .failure(error))
            throw error
        }
    }

    func close() {
        let (pending, established) = state.withLockedValue { state in
            defer { state = State() }
            return (state.pending, state.established)
        }
        established?.close()
        pending?.whenSuccess { $0.close() }
    }
}
