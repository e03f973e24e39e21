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
    let logger: Logger

    /// A deploy message that may be carried out: the token and the server name checked.
    /// Otherwise the RPC-EX to answer.
    func admit(_ envelope: Envelope, from peer: String) -> Result<DeployRequest, RPCError> {
        if let refusal = guardian.check(token: envelope.value["token"]?.stringValue, peer: peer) {
            logger.warning("unauthorized deploy from \(peer) refused: \(refusal)")
            return .failure(RPCError(.deployRejected, refusal))
        }
        do throws(RPCError) {
            let request = try DeployRequest(envelope)
            guard request.manifest.server == serverName else {
                throw RPCError(.deployRejected, "this is server \(serverName), but the manifest is for server \(request.manifest.server); check the ports in init.yaml")
            }
            return .success(request)
        } catch {
            return .failure(error)
        }
    }

    /// The text of every script `manifest` names, from what the deploy sent or the store, or
    /// the answer when some are missing: DEPLOY-NEED at the first step (the client sends
    /// them next), `Deploy Rejected` naming the first after it.
    func texts(of manifest: ServerManifest, sent: [String: String], firstStep: Bool, peer: String) -> Result<[String: String], Refusal> {
        var texts: [String: String] = [:]
        var missing: [String] = []
        for hash in manifest.scriptHashes.sorted() {
            if let text = sent[hash] ?? store?.script(hash) { texts[hash] = text } else { missing.append(hash) }
        }
        guard let first = missing.first else { return .success(texts) }
        if firstStep { return .failure(need(missing, peer: peer)) }
        return .failure(Refusal(rejected(Self.lacking(first, in: manifest), peer: peer)))
    }

    /// DEPLOY-NEED for the scripts the server lacks.
    func need(_ missing: [String], peer: String) -> Refusal {
        logger.info("deploy from \(peer): \(missing.count) script\(missing.count == 1 ? "" : "s") needed")
        return Refusal(DeployNeed(missing: missing).envelope.encoded())
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

    /// After the swap: scripts no longer named go from the store.
    func forgetUnreferenced(_ manifest: ServerManifest) {
        store?.removeScripts(except: manifest.scriptHashes)
    }

    /// A single server's deploy (no supervisor): build, persist, swap, tidy up.
    func install(_ manifest: ServerManifest, sources: [String: String], into registry: RPCRegistry) async throws(DeployError) -> DeployReport {
        let store = self.store
        let report = try await registry.install(manifest, sources: sources, stored: { store?.script($0) }) { manifest, sources throws(DeployError) in
            try persist(manifest, scripts: sources)
        }
        forgetUnreferenced(manifest)
        return report
    }

    /// The DEPLOY-RES answer, logged.
    func applied(_ result: DeployResult, peer: String, detail: String = "") -> [UInt8] {
        logger.info("deploy from \(peer) \(result.changed ? "applied" : "changed nothing"): generation \(result.generation)\(detail)")
        return result.envelope.encoded()
    }

    /// The `Deploy Rejected` answer, logged.
    func rejected(_ reason: String, peer: String) -> [UInt8] {
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
