import PyRPCWire

/// What a deploy changes, counted in overloads (service, rpc, argument and return types): an
/// overload whose script or timeout differs is replaced.
enum ManifestDiff {
    static func compare(_ old: ServerManifest?, _ new: ServerManifest, generation: Int) -> DeployReport {
        var report = DeployReport(generation: generation)
        let oldVersions = Dictionary(
            (old.map(versions) ?? []).map { ($0.key, $0.version) }, uniquingKeysWith: { first, _ in first })
        var seen: Set<Key> = []
        for (key, version) in versions(new) {
            seen.insert(key)
            switch oldVersions[key] {
            case nil: report.added += 1
            case version: report.unchanged += 1
            default: report.replaced += 1
            }
        }
        report.removed = oldVersions.keys.filter { !seen.contains($0) }.count
        return report
    }

    private struct Key: Hashable {
        let service: String
        let name: String
        let signature: Signature
    }

    private static func versions(_ manifest: ServerManifest) -> [(key: Key, version: String)] {
        manifest.services.flatMap { service in
            service.rpcs.map { rpc in
                (Key(service: service.name, name: rpc.name, signature: rpc.signature), rpc.scriptHash + "/" + (rpc.timeout.map { "\($0)" } ?? ""))
            }
        }
    }
}
