import PyRPCPython
import PyRPCWire
import Synchronization
import NIOConcurrencyHelpers

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
    /// Its rpc's counters for `GET /metrics` (every overload of the rpc shares them).
    let counters: RPCCounters
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
        counters = RPCCounters(service: service, rpc: name)
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

    /// The counters of requests for rpcs the service lacks (labelled with the service only).
    var unknownRPCs: RPCCounters { RPCCounters(service: name, rpc: "") }
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

    /// Calls in flight and whether the generation is retired, in one word so that neither
    /// side can miss the other: bit 0 is "retired", the rest counts calls in steps of 2.
    /// Once the bit is set no call can begin, so the count reaches zero exactly once after
    /// it, and whoever makes it so (`retire` or the last `endCall`) releases the generation.
    private let calls = Atomic<Int>(0)
    private let onRelease: NIOLockedValueBox<(@Sendable (Generation) -> Void)?> = NIOLockedValueBox(nil)

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

    /// A call begins on this generation: true, and pair it with `endCall`; or false when the
    /// generation is already retired (its functions may be gone), and the caller must take
    /// the registry's current generation instead.
    func beginCall() -> Bool {
        var observed = calls.load(ordering: .relaxed)
        while observed & Self.retiredBit == 0 {
            let (exchanged, original) = calls.compareExchange(
                expected: observed, desired: observed + Self.oneCall, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            observed = original
        }
        return false
    }

    func endCall() {
        let remaining = calls.wrappingSubtract(Self.oneCall, ordering: .acquiringAndReleasing).newValue
        if remaining == Self.retiredBit { releaseIfIdle() }
    }

    var callsInFlight: Int { calls.load(ordering: .relaxed) >> 1 }

    var isRetired: Bool { calls.load(ordering: .acquiring) & Self.retiredBit != 0 }

    /// Marks the generation replaced; `release` runs once its last call has ended (at once
    /// when none is in flight). Called once per generation.
    func retire(release: @escaping @Sendable (Generation) -> Void) {
        onRelease.withLockedValue { $0 = release }
        let before = calls.bitwiseOr(Self.retiredBit, ordering: .acquiringAndReleasing).oldValue
        precondition(before & Self.retiredBit == 0, "generation \(number) retired twice")
        if before == 0 { releaseIfIdle() }
    }

    private static let retiredBit = 1
    private static let oneCall = 2

    private func releaseIfIdle() {
        let release = onRelease.withLockedValue { handler -> (@Sendable (Generation) -> Void)? in
            defer { handler = nil }
            return handler
        }
        release?(self)
    }
}
