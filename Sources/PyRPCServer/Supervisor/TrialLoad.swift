import Foundation
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// Loads a deploy's new scripts in a process of their own before any worker does: one that
/// crashes the interpreter as it loads (a segfault in an extension, `os._exit`) then costs
/// that process, not a worker — nor the connection of the client waiting for the answer.
struct TrialLoad {
    let coordinator: DeployCoordinator

    /// Nil when the scripts load; otherwise why not. `whole`: every script of the manifest,
    /// not only those the running state lacks.
    /// The scripts are read from the store, where the deploy wrote them (`DeployService.stage`).
    func refusal(_ manifest: ServerManifest, whole: Bool = false) -> String? {
        let running = whole ? [] : (try? coordinator.store.loadManifest()).flatMap { $0 }?.scriptHashes ?? []
        var trial = manifest
        trial.services = manifest.services.compactMap { service in
            var service = service
            service.rpcs = service.rpcs.filter { !running.contains($0.scriptHash) }
            return service.rpcs.isEmpty ? nil : service
        }
        guard !trial.services.isEmpty else { return nil }
        let spawned: (pid: pid_t, channel: ControlChannel)
        do {
            spawned = try coordinator.launcher.spawnTrial()
        } catch {
            return "cannot start a process to load the new scripts: \(error)"
        }
        let (pid, channel) = spawned
        let round = DeployRound(number: 0, workers: [pid])
        coordinator.trial(round)
        coordinator.follow(pid, channel) { how in round.record(.died(how), from: pid) }
        defer {
            kill(pid, SIGKILL)
            channel.hangUp()
            coordinator.trial(nil)
        }
        channel.send(.prepare(round: 0, manifest: trial))
        let replies = round.waitForPrepared(until: Date().addingTimeInterval(600)) ?? [:]
        switch replies[pid] {
        case .prepared?, .swapped?: return nil
        case .failed(let message)?: return message
        case .died(let how)?: return "loading the new scripts crashed the interpreter (the process that tried them \(how.replacingOccurrences(of: "killed by", with: "was killed by"))); \(whole ? "nothing changed" : "the running generation keeps serving")"
        case nil: return "the new scripts did not finish loading within 10 minutes"
        }
    }
}
