import PyRPCPython
import PyRPCWire
import Synchronization

/// One overload as the server runs it (a class: calls pass it around by reference).
final class Overload: Sendable {
    let service: String
    let name: String
    let signature: Signature
    let function: PythonFunction
    let timeout: Double?
    let scriptHash: String
    let scriptPath: String
    let stats: CallStats
    /// The canonical spelling of each argument and return type: a request that spells its
    /// types the same way (as clients do) matches without parsing them.
    let argumentSpellings: [String]
    let returnSpellings: [String]
    /// `calc.add(int, int) -> (int)`, for log lines.
    let label: String

    init(service: String, name: String, signature: Signature, function: PythonFunction, timeout: Double?,
         scriptHash: String, scriptPath: String, stats: CallStats) {
        self.service = service
        self.name = name
        self.signature = signature
        self.function = function
        self.timeout = timeout
        self.scriptHash = scriptHash
        self.scriptPath = scriptPath
        self.stats = stats
        argumentSpellings = signature.arguments.map(\.description)
        returnSpellings = signature.returns.map(\.description)
        label = "\(service).\(name)\(signature)"
    }

    /// True when the request's type lists are exactly this overload's canonical spellings.
    func isSpelled(arguments: [String], returns: [String]) -> Bool {
        arguments == argumentSpellings && returns == returnSpellings
    }
}

/// The RPCs of one service, with who may call them.
struct ServiceTable: Sendable {
    let name: String
    let tenants: Set<String>
    /// Overloads by rpc name, in declaration order.
    let rpcs: [String: [Overload]]
    /// Rpc names in declaration order, for messages and listings.
    let rpcNames: [String]
}

/// A complete, immutable set of RPCs. The server swaps generations as a whole, so a call sees
/// either the old set or the new one, never a mix; a call keeps the generation it started on.
final class Generation: Sendable {
    let number: Int
    let manifest: ServerManifest
    let services: [String: ServiceTable]
    let clients: ClientDirectory
    /// Loaded scripts by hash.
    let scripts: [String: LoadedScript]
    let deployedAt: ContinuousClock.Instant

    private let inFlight = Atomic<Int>(0)
    private let retired = Atomic<Bool>(false)
    private let onRelease: Mutex<(@Sendable (Generation) -> Void)?> = Mutex(nil)

    init(number: Int, manifest: ServerManifest, services: [String: ServiceTable], clients: ClientDirectory, scripts: [String: LoadedScript]) {
        self.number = number
        self.manifest = manifest
        self.services = services
        self.clients = clients
        self.scripts = scripts
        deployedAt = .now
    }

    static func empty(server: String) -> Generation {
        Generation(
            number: 0, manifest: ServerManifest(server: server, clients: [], nodeAddresses: [], services: []),
            services: [:], clients: ClientDirectory(clients: []), scripts: [:])
    }

    /// Every overload, service by service in declaration order.
    var overloads: [Overload] {
        manifest.services.flatMap { service in
            (services[service.name]?.rpcNames ?? []).flatMap { services[service.name]?.rpcs[$0] ?? [] }
        }
    }

    /// A call begins on this generation; pair with `endCall`.
    func beginCall() {
        inFlight.wrappingAdd(1, ordering: .relaxed)
    }

    func endCall() {
        let remaining = inFlight.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        if remaining == 0, retired.load(ordering: .acquiring) { releaseIfIdle() }
    }

    var callsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Marks the generation replaced; `release` runs once its last call has ended.
    func retire(release: @escaping @Sendable (Generation) -> Void) {
        onRelease.withLock { $0 = release }
        retired.store(true, ordering: .releasing)
        if inFlight.load(ordering: .acquiring) == 0 { releaseIfIdle() }
    }

    private func releaseIfIdle() {
        let release = onRelease.withLock { handler -> (@Sendable (Generation) -> Void)? in
            defer { handler = nil }
            return handler
        }
        release?(self)
    }
}
