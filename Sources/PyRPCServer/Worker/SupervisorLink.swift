import Foundation
import Logging
import NIOConcurrencyHelpers
import PyRPCWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A worker process's side of its supervisor (`pyrpc serve --processes N`): deploys that
/// clients send to this worker go to the supervisor, which prepares, stores and swaps them in
/// every worker (see `ControlMessage`); the supervisor's requests to prepare, commit or abort
/// are carried out on this worker's registry.
final class SupervisorLink: Sendable {
    private let channel: ControlChannel
    private let core: ServerCore
    private struct State {
        var nextRequest = 1
        /// Forwarded requests waiting for the supervisor's answer.
        var sinks: [Int: any ReplySink] = [:]
        /// Prepared deploy rounds waiting for commit (nil) or abort (the reason).
        var decisions: [Int: CheckedContinuation<String?, Never>] = [:]
        /// Rounds aborted before this worker finished preparing them (another worker failed first).
        var aborted: [Int: String] = [:]
        var closed = false
        /// Connections adopted so far (which loop takes the next).
        var adopted = 0
        /// The supervisor sends no more connections (`noMoreConnections`).
        var doorClosed = false
        /// What `startAccepting` does.
        var onStartAccepting: (@Sendable () -> Void)?
    }
    private let state = NIOLockedValueBox(State())

    init(fd: Int32, core: ServerCore) {
        channel = ControlChannel(fd: fd)
        self.core = core
    }

    /// Starts reading the supervisor's messages; `onRetire` runs when the supervisor asks this
    /// worker to leave (handing its connections over), `onClose` when the supervisor is gone.
    func start(onRetire: @escaping @Sendable (String) -> Void, onClose: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            var reader = ControlReader(channel)
            while let message = reader.next() {
                if case .retire(let reason) = message {
                    onRetire(reason)
                } else {
                    handle(message)
                }
            }
            closeDown()
            onClose()
        }
        thread.start()
    }

    @discardableResult
    func send(_ message: ControlMessage) -> Bool {
        channel.send(message)
    }

    /// Hands a client's deploy (token and server checked) to the supervisor; its answer goes to `sink`.
    func forward(_ deploy: DeployRequest, peer: String, sink: any ReplySink) {
        guard let request = register(sink) else {
            return sink.deliver(RPCReply.exception(RPCError(.deployRejected, "the server is stopping; deploy again once it has restarted")))
        }
        channel.send(.deploy(request: request, firstStep: deploy.firstStep, manifest: deploy.manifest, scripts: deploy.scripts, sizes: deploy.sizes, peer: peer))
    }

    /// Hands a client's DEPLOY-PIECES (token and server checked) to the supervisor, which keeps them.
    func forward(_ pieces: DeployPieces, peer: String, sink: any ReplySink) {
        guard let request = register(sink) else {
            return sink.deliver(RPCReply.exception(RPCError(.deployRejected, "the server is stopping; deploy again once it has restarted")))
        }
        channel.send(.deployPieces(request: request, pieces: pieces.pieces, server: pieces.server, peer: peer))
    }

    /// Hands a client's STATS-REQ to the supervisor, which gathers every worker's.
    func forwardStats(sink: any ReplySink) {
        guard let request = register(sink) else {
            return sink.deliver(RPCReply.exception(RPCError(.serverBusy, "the server is stopping")))
        }
        channel.send(.statsRequest(request: request))
    }

    /// A number for a forwarded request, whose answer goes to `sink`; nil once the supervisor is gone.
    private func register(_ sink: any ReplySink) -> Int? {
        state.withLockedValue { state in
            guard !state.closed else { return nil }
            defer { state.nextRequest += 1 }
            state.sinks[state.nextRequest] = sink
            return state.nextRequest
        }
    }

    /// This process's part of STATS-RES; without latencies for the supervisor's heartbeat
    /// (counters only, once a second: cheap).
    private func snapshot(latencies: Bool = true) -> WorkerStats {
        let generation = core.registry.current
        var rpcs = StatsReport.local(generation)
        if !latencies { for index in rpcs.indices { rpcs[index].latencies = [] } }
        return WorkerStats(
            pid: getpid(), uptime: ServerCore.seconds(since: core.startedAt), residentBytes: WorkerWatchdog.residentBytes() ?? 0,
            generation: generation.number, calls: MetricsBoard.callsFinished, rpcs: rpcs)
    }

    /// The worker stopped: everything it counted, for the supervisor to keep.
    func sendFinalStatistics() {
        channel.send(.stats(round: ControlMessage.heartbeat, snapshot: snapshot()))
    }

    private func handle(_ message: ControlMessage) {
        switch message {
        case .collectStats(let round):
            channel.send(.stats(round: round, snapshot: snapshot(latencies: round != ControlMessage.heartbeat)))
        case .answer(let request, let answer):
            let sink = state.withLockedValue { $0.sinks.removeValue(forKey: request) }
            sink?.deliver(answer)
        case .prepare(let round, let manifest):
            prepare(round: round, manifest: manifest)
        case .commit(let round):
            decide(round, nil)
        case .abort(let round, let reason):
            decide(round, reason)
        case .adopt(let transfer):
            adopt(transfer)
        case .noMoreConnections:
            state.withLockedValue { $0.doorClosed = true }
        case .startAccepting:
            state.withLockedValue { $0.onStartAccepting }?()
        case .retire:
            break  // (`start`'s)
        case .ready, .deploy, .deployPieces, .prepared, .swapped, .retiring, .statsRequest, .stats, .handOver, .leaving:
            core.logger.warning("unexpected control message from the supervisor: \(message)")
        }
    }

    private func decide(_ round: Int, _ abortReason: String?) {
        let waiting = state.withLockedValue { state in
            let waiting = state.decisions.removeValue(forKey: round)
            if waiting == nil, let abortReason { state.aborted[round] = abortReason }
            return waiting
        }
        waiting?.resume(returning: abortReason)
    }

    /// Builds the round's generation, says it is ready, and swaps it in on commit.
    /// The scripts are read from the state directory, where the supervisor staged them.
    private func prepare(round: Int, manifest: ServerManifest) {
        let (core, channel, state) = (self.core, self.channel, self.state)
        Task {
            await core.deploySerializer.run {
                do throws(DeployError) {
                    let report = try await core.registry.install(manifest, sources: [:], stored: { core.store?.script($0) }, persist: { _, _ throws(DeployError) in
                        let abortReason: String? = await withCheckedContinuation { continuation in
                            let early = state.withLockedValue { state -> String? in
                                if state.closed { return "the supervisor stopped" }
                                if let reason = state.aborted.removeValue(forKey: round) { return reason }
                                state.decisions[round] = continuation
                                return nil
                            }
                            if let early { return continuation.resume(returning: early) }
                            channel.send(.prepared(round: round, error: nil))
                        }
                        if let abortReason { throw DeployError(message: abortReason) }
                    })
                    // An unchanged deploy never reaches `persist`: it answers `swapped` at once.
                    channel.send(.swapped(round: round, result: DeployService.result(of: report)))
                } catch {
                    // After an abort the supervisor has moved on and ignores this.
                    channel.send(.prepared(round: round, error: error.message))
                }
            }
        }
    }

    /// `body` runs when the supervisor says to accept (`startAccepting`).
    func whenToldToAccept(_ body: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.onStartAccepting = body }
    }

    /// This worker leaves: the supervisor is asked to send no more connections.
    func closeDoor() {
        if !channel.send(.leaving) { state.withLockedValue { $0.doorClosed = true } }
    }

    /// No connection can arrive any more: the supervisor said so, or is gone.
    var isDoorClosed: Bool { state.withLockedValue { $0.doorClosed || $0.closed } }

    /// A connection another worker left: one of this worker's I/O loops takes it, in turn.
    private func adopt(_ transfer: ConnectionTransfer) {
        let loops = core.loops.all
        guard !loops.isEmpty, transfer.descriptor >= 0 else {
            if transfer.descriptor >= 0 { close(transfer.descriptor) }
            return
        }
        let turn = state.withLockedValue { state in
            defer { state.adopted += 1 }
            return state.adopted
        }
        let loop = loops[turn % loops.count]
        // Counted from now: a worker handing over waits for it too (`ServerCore.waitForHandOver`).
        loop.openConnections.add(1, ordering: .relaxed)
        loop.mailbox.post(.adopt(transfer))
    }

    /// The supervisor is gone: forwarded deploys are refused, prepared ones discarded.
    private func closeDown() {
        let (sinks, decisions) = state.withLockedValue { state in
            state.closed = true
            defer { state.sinks = [:]; state.decisions = [:] }
            return (state.sinks, state.decisions)
        }
        for sink in sinks.values {
            sink.deliver(RPCReply.exception(RPCError(.deployRejected, "the server's supervisor stopped during the deploy; deploy again once it has restarted")))
        }
        for waiting in decisions.values { waiting.resume(returning: "the supervisor stopped") }
    }
}
