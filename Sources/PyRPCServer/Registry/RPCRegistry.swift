import Logging
import PyRPCPython
import PyRPCWire
import NIOConcurrencyHelpers

/// Why a deploy was refused. The running generation is untouched when this is thrown.
public struct DeployError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What a deploy changed, counted in overloads.
public struct DeployReport: Sendable, Equatable {
    public var generation: Int
    public var added = 0
    public var replaced = 0
    public var removed = 0
    public var unchanged = 0
    /// False when the deploy matched the running generation exactly: nothing was swapped
    /// and the generation number stayed.
    public var changed = true
    /// The import path the deploy asked for, and whether it is in effect now or at the next start.
    public var environment: PythonEnvironment = .none
    public var environmentChange: ImportPathChange = .unchanged
}

/// Holds the current generation and replaces it as a whole.
///
/// `install` verifies every script against its hash, loads every new one and looks up
/// every function before anything becomes visible; a failure leaves the running generation
/// as it was. Scripts whose hash is unchanged keep their loaded module (and its state).
/// A replaced generation is released — functions dropped, modules removed from
/// `sys.modules` — once its last call in flight has ended.
public final class RPCRegistry: Sendable {
    let serverName: String
    /// `--venv`: replaces the venv that deploys name.
    let venvOverride: String?
    private let pool: PythonWorkerPool
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    private struct State {
        var current: Generation
        /// Retired generations still finishing calls; their scripts must stay loaded.
        var draining: [Generation] = []
    }

    init(serverName: String, venvOverride: String? = nil, pool: PythonWorkerPool, logger: Logger) {
        self.serverName = serverName
        self.venvOverride = venvOverride
        self.pool = pool
        self.logger = logger
        state = NIOLockedValueBox(State(current: .empty(server: serverName)))
    }

    var current: Generation { state.withLockedValue { $0.current } }

    /// The current generation with a call begun on it (pair with `endCall`). A generation
    /// retired between reading and entering it refuses the call; the next read finds its
    /// successor, which is retired only by a later deploy.
    func enterCurrent() -> Generation {
        while true {
            let generation = current
            if generation.beginCall() { return generation }
        }
    }

    /// The hashes the server already has loaded (a deploy need not send these).
    var loadedHashes: Set<String> { Set(current.scripts.keys) }

    /// Builds and swaps in a generation for `manifest`. `sources` maps hash → script text for
    /// every script not already loaded. Serialized by the caller (one deploy at a time).
    /// Hashes of `manifest`'s scripts that are neither loaded nor stored: what a deploy must send.
    func missingScripts(_ manifest: ServerManifest, stored: (String) -> String?) -> [String] {
        let loaded = current.scripts
        return manifest.scriptHashes.filter { loaded[$0] == nil && stored($0) == nil }.sorted()
    }

    /// - Parameters:
    ///   - stored: finds the text of a script kept on disk by an earlier deploy.
    ///   - number: the new generation's number (default: the next); a worker process restores
    ///     its supervisor's, so that all workers count alike.
    ///   - persist: saves the new state, or (a supervised worker) waits until every worker has
    ///     prepared; runs after every script compiled and before the swap. Throwing discards
    ///     the new generation.
    func install(
        _ manifest: ServerManifest, sources: [String: String], stored: (String) -> String? = { _ in nil },
        persist: (ServerManifest, [String: String]) async throws(DeployError) -> Void = { _, _ in },
        number: Int? = nil
    ) async throws(DeployError) -> DeployReport {
        let previous = current
        var sources = sources
        for hash in manifest.scriptHashes where previous.scripts[hash] == nil && sources[hash] == nil {
            if let text = stored(hash) { sources[hash] = text }
        }
        for (hash, text) in sources where ScriptHash.sha256(text) != hash {
            throw DeployError(message: "script \(hash.prefix(12)) does not match its SHA-256 (got \(ScriptHash.sha256(text).prefix(12))); it was corrupted in transit")
        }
        let missing = manifest.scriptHashes.filter { previous.scripts[$0] == nil && sources[$0] == nil }
        if let hash = missing.first { throw DeployError(message: DeployService.lacking(hash, in: manifest)) }
        if manifest == previous.manifest {
            // Nothing to swap: keeping the generation keeps the connections' remembered
            // dispatch decisions and the modules' state, and says "nothing changed".
            let unchanged = previous.overloads.count
            logger.info("deploy matched generation \(previous.number): nothing changed")
            return DeployReport(generation: previous.number, unchanged: unchanged, changed: false)
        }
        // Scripts import from the new environment, so it goes on sys.path before they load.
        let environment = self.environment(for: manifest)
        let change = try await use(environment)
        let number = number ?? previous.number + 1
        let server = serverName
        let texts = sources
        let built: Result<Generation, DeployError> = await pool.perform { gil in
            Self.build(manifest, sources: texts, previous: previous, number: number, server: server, gil)
        }
        let generation = try built.get()
        do {
            try await persist(manifest, sources)
        } catch {
            discard(generation, keeping: previous)
            throw error
        }
        var report = ManifestDiff.compare(previous.manifest, generation.manifest, generation: generation.number)
        report.environment = environment
        report.environmentChange = change
        let retired = state.withLockedValue { state -> Generation in
            let old = state.current
            state.current = generation
            state.draining.append(old)
            return old
        }
        retired.retire { [weak self] old in self?.release(old) }
        logger.info("deployed generation \(number): \(report.added) added, \(report.replaced) replaced, \(report.removed) removed, \(report.unchanged) unchanged")
        return report
    }

    /// The import path for `manifest`: its `python:`, with `--venv` over its venv.
    func environment(for manifest: ServerManifest) -> PythonEnvironment {
        var environment = manifest.python
        if let venvOverride { environment.venv = venvOverride }
        return environment
    }

    /// Puts `environment` on the interpreter's import path, or leaves it for the next start
    /// when another one is in effect (modules may already come from it).
    func use(_ environment: PythonEnvironment, adding: Bool = false) async throws(DeployError) -> ImportPathChange {
        let result: Result<ImportPathChange, ImportPathError> = await pool.perform { gil in
            do throws(ImportPathError) {
                return .success(try ImportPath.use(environment, adding: adding, gil))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let change):
            switch change {
            case .unchanged: break
            case .applied: logger.info("python: \(environment) is on sys.path")
            case .atNextStart: logger.warning("python: \(environment) takes effect when the server restarts (another environment is in effect and its modules may be loaded)")
            }
            return change
        case .failure(let error):
            throw DeployError(message: "python environment: \(error.message)")
        }
    }

    private static func build(
        _ manifest: ServerManifest, sources: [String: String], previous: Generation, number: Int, server: String, _ gil: borrowing GIL
    ) -> Result<Generation, DeployError> {
        var scripts: [String: LoadedScript] = [:]
        var fresh: [LoadedScript] = []
        var functions: [PythonFunction] = []
        func fail(_ message: String, _ gil: borrowing GIL) -> Result<Generation, DeployError> {
            for function in functions { function.dispose(gil) }
            for script in fresh { script.unload(gil) }
            return .failure(DeployError(message: message))
        }
        let previousOverloads = Dictionary(previous.overloads.map { (OverloadKey($0), $0) }, uniquingKeysWith: { first, _ in first })
        var services: [String: ServiceTable] = [:]
        for service in manifest.services {
            var rpcs: [String: [Overload]] = [:]
            var names: [String] = []
            for rpc in service.rpcs {
                let script: LoadedScript
                if let loaded = scripts[rpc.scriptHash] ?? previous.scripts[rpc.scriptHash] {
                    script = loaded
                } else {
                    Scoreboard.enter("loading \(rpc.scriptPath)")
                    defer { Scoreboard.leave() }
                    do {
                        script = try LoadedScript.load(
                            source: sources[rpc.scriptHash]!, path: rpc.scriptPath,
                            moduleName: moduleName(server: server, path: rpc.scriptPath, hash: rpc.scriptHash), gil)
                    } catch {
                        return fail("\(error)", gil)
                    }
                    fresh.append(script)
                }
                scripts[rpc.scriptHash] = script
                let function: PythonFunction
                do {
                    function = try script.function(named: rpc.function, gil)
                } catch {
                    return fail("\(error) (rpc \(service.name).\(rpc.name))", gil)
                }
                functions.append(function)
                let key = OverloadKey(service: service.name, name: rpc.name, signature: rpc.signature, hash: rpc.scriptHash)
                let overload = Overload(
                    service: service.name, name: rpc.name, signature: rpc.signature, function: function,
                    timeout: rpc.timeout, scriptHash: rpc.scriptHash, scriptPath: rpc.scriptPath,
                    stats: previousOverloads[key]?.stats
                        ?? CallStats(service: service.name, rpc: rpc.name, signature: rpc.signature.description, hash: rpc.scriptHash))
                if rpcs[rpc.name] == nil { names.append(rpc.name) }
                rpcs[rpc.name, default: []].append(overload)
            }
            services[service.name] = ServiceTable(name: service.name, tenants: Set(service.tenants), rpcs: rpcs, rpcNames: names)
        }
        return .success(Generation(
            number: number, manifest: manifest, services: services,
            clients: ClientDirectory(clients: manifest.clients), scripts: scripts))
    }

    /// Releases a retired generation: drops its functions, and unloads each of its modules
    /// that no live generation still uses.
    private func release(_ old: Generation) {
        let stillUsed: Set<ObjectIdentifier> = state.withLockedValue { state in
            state.draining.removeAll { $0 === old }
            let live = [state.current] + state.draining
            return Set(live.flatMap { $0.scripts.values.map(ObjectIdentifier.init) })
        }
        let overloads = old.overloads
        let scripts = old.scripts.values.filter { !stillUsed.contains(ObjectIdentifier($0)) }
        pool.submit(ClosureJob(deadline: nil, work: { gil in
            for overload in overloads { overload.function.dispose(gil) }
            for script in scripts { script.unload(gil) }
            if !scripts.isEmpty { LoadedScript.collectUnloaded(gil) }
        }), force: true)
    }

    /// Drops a generation that was built but never swapped in.
    private func discard(_ generation: Generation, keeping previous: Generation) {
        let overloads = generation.overloads
        let fresh = generation.scripts.filter { previous.scripts[$0.key] !== $0.value }.map(\.value)
        pool.submit(ClosureJob(deadline: nil, work: { gil in
            for overload in overloads { overload.function.dispose(gil) }
            for script in fresh { script.unload(gil) }
            if !fresh.isEmpty { LoadedScript.collectUnloaded(gil) }
        }), force: true)
    }

    /// `pyrpc_s1_add_3f2a9c01`: unique per server and version, readable in tracebacks.
    static func moduleName(server: String, path: String, hash: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? "script"
        let stem = file.hasSuffix(".py") ? String(file.dropLast(3)) : file
        let safe = { (text: String) in String(text.map { $0.isLetter || $0.isNumber ? $0 : "_" }) }
        return "pyrpc_\(safe(server))_\(safe(stem))_\(hash.prefix(12))"
    }
}

/// Identity of an overload's version, to carry its statistics across deploys.
private struct OverloadKey: Hashable {
    let service: String
    let name: String
    let signature: Signature
    let hash: String

    init(service: String, name: String, signature: Signature, hash: String) {
        self.service = service
        self.name = name
        self.signature = signature
        self.hash = hash
    }

    init(_ overload: Overload) {
        self.init(service: overload.service, name: overload.name, signature: overload.signature, hash: overload.scriptHash)
    }
}
