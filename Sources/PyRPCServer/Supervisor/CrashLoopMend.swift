import Foundation
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

extension DeployCoordinator {
    /// A deploy while a crash loop leaves no worker: the whole new state loads in a trial
    /// process first, is stored, and workers start on it at once (no back-off); the answer
    /// waits until they serve it. If they still die as they start, the previous state is put
    /// back: all or nothing, as ever.
    func mend(_ manifest: ServerManifest, peer: String) -> [UInt8] {
        if let refusal = TrialLoad(coordinator: self).refusal(manifest, whole: true) {
            return service.rejected(refusal, peer: peer)
        }
        let old = (try? store.loadManifest()) ?? nil
        let oldGeneration = store.loadGeneration() ?? (old == nil ? 0 : 1)
        // Workers starting on the old state now would serve it after the deploy: stop them,
        // and hold replacements until the new state is stored.
        let starting = workers.change { contents -> [pid_t] in
            contents.deploying = true
            let live = contents.live.map(\.pid)
            for pid in live { contents.workers[pid]?.leaving = "its state is being replaced by a deploy" }
            return live
        }
        for pid in starting { kill(pid, SIGKILL) }
        _ = workers.wait(until: Date().addingTimeInterval(10)) { contents in
            starting.contains { contents.workers[$0] != nil } ? nil : true
        }
        let generation = oldGeneration + 1
        do throws(DeployError) {
            try service.persist(manifest, scripts: [:], generation: generation)
        } catch {
            workers.change { $0.deploying = false }
            startMissingWorkers()
            return service.rejected(error.message, peer: peer)
        }
        let restartsBefore = workers.change { contents in
            contents.deploying = false
            contents.history.mended()
            return contents.history.restarts
        }
        startMissingWorkers()
        // Ready, or one died (a crash counts a restart): no need to wait out the two minutes.
        let ready = workers.wait(until: Date().addingTimeInterval(120)) { contents -> Bool? in
            if contents.readyCount >= processes { return true }
            return contents.history.restarts == restartsBefore ? nil : false
        } ?? false
        guard ready else {
            let how = workers.read { $0.history.exits.last.map { "worker \($0.pid) \($0.how)" } } ?? "they did not start within 2 minutes"
            if let old {
                try? store.storeManifest(old)
                try? store.storeGeneration(oldGeneration)
            }
            return service.rejected("the new scripts load in a trial process, but the workers still die as they start with them (\(how)); the previous state is back", peer: peer)
        }
        service.forgetUnreferenced(manifest)
        stats.forgetRetired(outside: manifest)
        let report = ManifestDiff.compare(old, manifest, generation: generation)
        let result = DeployResult(
            generation: generation, added: report.added, replaced: report.replaced, removed: report.removed,
            unchanged: report.unchanged, changed: true, python: old?.python == manifest.python ? "unchanged" : "at next start")
        return service.applied(result, peer: peer, detail: "; the workers serve again")
    }
}
