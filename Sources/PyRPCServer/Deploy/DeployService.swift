import PyRPCPython
import Logging
import PyRPCWire

/// The deploy sequence, written once for whoever runs it — a single server, a worker's
/// supervisor, the supervisor mending a crash loop: admit (token, server name) → find every
/// script's text → persist (scripts, then the manifest, then the generation) → after the
/// swap, forget scripts nothing references → report (DEPLOY-RES, or `Deploy Rejected`).
struct DeployService: Sendable {
    let serverName: String
    let store: StateStore?
    let guardian: DeployGuard
    let limits: DeployLimits
    let logger: Logger
    /// Scripts sent in pieces, until a deploy stores them.
    let uploads: UploadArea
    /// Where deploys' answers are counted (`pyrpc_deploys_total`).
    let tally: MetricsBoard

    init(serverName: String, store: StateStore?, guardian: DeployGuard, limits: DeployLimits, logger: Logger, tally: MetricsBoard = .process) {
        self.serverName = serverName
        self.tally = tally
        self.store = store
        self.guardian = guardian
        self.limits = limits
        self.logger = logger
        uploads = UploadArea(limit: limits.maxDeployBytes)
    }

    /// A deploy message that may be carried out: the token and the server name checked.
    /// Otherwise the RPC-EX to answer.
    func admit(_ envelope: Envelope, from peer: Peer) -> Result<DeployRequest, RPCError> {
        let admitted = admit(envelope, from: peer, read: DeployRequest.init, server: \.manifest.server)
        if case .failure = admitted { tally.deploy(.rejected) }
        return admitted
    }

    /// DEPLOY-PIECES that may be kept: the token and the server name checked.
    func admitPieces(_ envelope: Envelope, from peer: Peer) -> Result<DeployPieces, RPCError> {
        admit(envelope, from: peer, read: DeployPieces.init, server: \.server)
    }

    private func admit<Message>(
        _ envelope: Envelope, from peer: Peer, read: (Envelope) throws(RPCError) -> Message, server: (Message) -> String
    ) -> Result<Message, RPCError> {
        if let refusal = guardian.check(token: envelope.value["token"]?.stringValue, peer: peer) {
            logger.warning("unauthorized deploy from \(peer.withCertificate) refused: \(refusal)")
            return .failure(RPCError(.deployRejected, refusal))
        }
        do throws(RPCError) {
            let message = try read(envelope)
            guard server(message) == serverName else {
                throw RPCError(.deployRejected, "this is server \(serverName), but the deploy is for server \(server(message)); check the ports in init.yaml")
            }
            return .success(message)
        } catch {
            return .failure(error)
        }
    }

    /// Keeps a DEPLOY-PIECES' pieces; answers DEPLOY-RECEIVED, or `Deploy Rejected`.
    func receive(_ message: DeployPieces, peer: String) -> [UInt8] {
        let received: [String: Int]
        do throws(RPCError) {
            received = try uploads.receive(message.pieces)
        } catch {
            logger.warning("deploy from \(peer): pieces refused: \(error.message)")
            return RPCReply.exception(error)
        }
        for piece in message.pieces where received[piece.hash] == piece.size && piece.offset + piece.text.utf8.count == piece.size {
            logger.info("deploy from \(peer): script \(piece.hash.prefix(12)) arrived whole (\(piece.size) bytes)")
        }
        let bytes = message.pieces.reduce(0) { $0 + $1.text.utf8.count }
        logger.info("deploy from \(peer): received \(bytes) bytes in \(message.pieces.count) piece\(message.pieces.count == 1 ? "" : "s")")
        return DeployReceived(received: received).envelope.encoded()
    }

    /// The text of a script this server holds outside its running generation: sent in
    /// pieces, or stored by an earlier deploy.
    func held(_ hash: String) -> String? {
        uploads.script(hash) ?? store?.script(hash)
    }

    /// The texts of the scripts `manifest` names that the store lacks (sent with the deploy,
    /// or in pieces before it), for `stage`, once every script is there, sent or stored; or
    /// the answer when some are missing: DEPLOY-NEED at the first step (the client sends them
    /// next), `Deploy Rejected` naming the first after it, or when they pass the size limit.
    func unstoredTexts(of manifest: ServerManifest, sent: [String: String], firstStep: Bool, peer: String) -> Result<[String: String], Refusal> {
        var unstored: [String: String] = [:]
        var missing: [String] = []
        var bytes = 0
        for hash in manifest.scriptHashes.sorted() {
            if let text = sent[hash] ?? uploads.script(hash) {
                unstored[hash] = text
                bytes += text.utf8.count
            } else if let text = store?.script(hash) {
                bytes += text.utf8.count
            } else {
                missing.append(hash)
            }
        }
        if let over = oversize(bytes) { return .failure(Refusal(rejected(over, peer: peer))) }
        guard let first = missing.first else { return .success(unstored) }
        if firstStep { return .failure(need(missing, peer: peer)) }
        return .failure(Refusal(rejected(Self.lacking(first, in: manifest), peer: peer)))
    }

    /// Why a deploy whose scripts take `bytes` is refused, if it is: over `--max-deploy-bytes`.
    func oversize(_ bytes: Int) -> String? {
        guard bytes > limits.maxDeployBytes else { return nil }
        return "the deploy's scripts take \(bytes) bytes, more than this server's --max-deploy-bytes (\(limits.maxDeployBytes)); deploy fewer or smaller scripts, or raise the limit"
    }

    /// The refusal of a DEPLOY-MANIFEST whose scripts' sizes (as the deployer gives them) pass the limit.
    func oversize(_ manifest: ServerManifest, sizes: [String: Int], peer: String) -> Refusal? {
        let total = manifest.scriptHashes.reduce(0) { $0 + (sizes[$1] ?? 0) }
        return oversize(total).map { Refusal(rejected($0, peer: peer)) }
    }

    /// DEPLOY-NEED for the scripts the server lacks, with the limits a deployer sizes its
    /// messages by and what the server holds of scripts an interrupted deploy began to send.
    func need(_ missing: [String], peer: String) -> Refusal {
        logger.info("deploy from \(peer): \(missing.count) script\(missing.count == 1 ? "" : "s") needed")
        var partial: [String: PartialScript] = [:]
        for hash in missing { partial[hash] = uploads.held(hash) }
        return Refusal(DeployNeed(missing: missing, maxMessageBytes: limits.messageBytes, maxDeployBytes: limits.maxDeployBytes, partial: partial).envelope.encoded())
    }

    /// Why a deploy cannot go on: "lacks the text of" a script.
    static func lacking(_ hash: String, in manifest: ServerManifest) -> String {
        let path = manifest.services.flatMap(\.rpcs).first { $0.scriptHash == hash }?.scriptPath ?? "?"
        return "the deploy lacks the text of \(path) (\(hash.prefix(12)))"
    }

    /// Writes the new state: the scripts first, then the manifest that names them, then (a
    /// supervisor's) the generation number, so a crash between two steps leaves the previous
    /// manifest whole. `scripts` may hold texts the manifest does not name; they are skipped.
    func persist(_ manifest: ServerManifest, scripts: [String: String], generation: Int? = nil) throws(DeployError) {
        guard let store else { return }
        for (hash, text) in scripts where manifest.scriptHashes.contains(hash) { try store.storeScript(hash, text) }
        try store.storeManifest(manifest)
        if let generation { try store.storeGeneration(generation) }
    }

    /// Writes the scripts the store lacks (`unstoredTexts`) before any process loads
    /// them (a supervisor's deploy): workers and the trial process read them there, so no
    /// script crosses a control socket. Named by their hash and written whole, they are
    /// unnamed until the manifest is.
    func stage(_ texts: [String: String]) throws(DeployError) {
        guard let store else { return }
        for (hash, text) in texts { try store.storeScript(hash, text) }
    }

    /// Stored scripts the stored manifest does not name go: those a failed deploy staged.
    func tidyStore() {
        guard let store else { return }
        let named = ((try? store.loadManifest()) ?? nil)?.scriptHashes ?? []
        store.removeScripts(except: named)
    }

    /// After the swap: scripts no longer named go from the store, and those it names from
    /// the uploads.
    func forgetUnreferenced(_ manifest: ServerManifest) {
        store?.removeScripts(except: manifest.scriptHashes)
        uploads.release(manifest.scriptHashes)
    }

    /// A single server's deploy (no supervisor): build, persist, swap, tidy up.
    func install(_ manifest: ServerManifest, sources: [String: String], into registry: RPCRegistry) async throws(DeployError) -> DeployReport {
        let report = try await registry.install(manifest, sources: sources, stored: held) { manifest, sources throws(DeployError) in
            try persist(manifest, scripts: sources)
        }
        forgetUnreferenced(manifest)
        return report
    }

    /// The DEPLOY-RES answer, logged.
    func applied(_ result: DeployResult, peer: String, detail: String = "") -> [UInt8] {
        tally.deploy(result.changed ? .applied : .unchanged)
        logger.info("deploy from \(peer) \(result.changed ? "applied" : "changed nothing"): generation \(result.generation)\(detail)")
        return result.envelope.encoded()
    }

    /// The `Deploy Rejected` answer, logged.
    func rejected(_ reason: String, peer: String) -> [UInt8] {
        tally.deploy(.rejected)
        logger.warning("deploy from \(peer) rejected: \(reason)")
        return RPCReply.exception(RPCError(.deployRejected, reason))
    }

    static func result(of report: DeployReport) -> DeployResult {
        DeployResult(
            generation: report.generation, added: report.added, replaced: report.replaced, removed: report.removed,
            unchanged: report.unchanged, changed: report.changed, python: describe(report.environmentChange))
    }

    /// DEPLOY-RES `python`: whether the deploy's import path is in effect.
    static func describe(_ change: ImportPathChange) -> String {
        switch change {
        case .unchanged: return "unchanged"
        case .applied: return "applied"
        case .atNextStart: return "at next start"
        }
    }
}

/// An answer that ends a deploy before anything is swapped (DEPLOY-NEED or RPC-EX).
struct Refusal: Error {
    let answer: [UInt8]

    init(_ answer: [UInt8]) {
        self.answer = answer
    }
}
