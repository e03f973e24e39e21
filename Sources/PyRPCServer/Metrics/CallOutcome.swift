import PyRPCWire

/// How a call ended, as `pyrpc_calls_total`'s `outcome` label says it: `ok` or the exception
/// type in snake case. The order is the metrics board's (`PYRPC_OUTCOMES`).
public enum CallOutcome: Int, CaseIterable, Sendable {
    case ok
    case executionException
    case timeout
    case invalidArguments
    case clientNotRegistered
    case rpcNotFound
    case serviceNotFound
    case serverBusy
    case badRequest

    public var label: String {
        switch self {
        case .ok: "ok"
        case .executionException: "execution_exception"
        case .timeout: "timeout"
        case .invalidArguments: "invalid_arguments"
        case .clientNotRegistered: "client_not_registered"
        case .rpcNotFound: "rpc_not_found"
        case .serviceNotFound: "service_not_found"
        case .serverBusy: "server_busy"
        case .badRequest: "bad_request"
        }
    }

    /// The outcome of a call answered with `type` (nil: not a call's exception, as `Deploy Rejected`).
    init?(_ type: ExceptionType) {
        switch type {
        case .executionException: self = .executionException
        case .timeout: self = .timeout
        case .invalidArguments: self = .invalidArguments
        case .clientNotRegistered: self = .clientNotRegistered
        case .rpcNotFound: self = .rpcNotFound
        case .serviceNotFound: self = .serviceNotFound
        case .serverBusy: self = .serverBusy
        case .badRequest: self = .badRequest
        default: return nil
        }
    }
}

/// Why the server refused or closed a connection, as `pyrpc_connections_refused_total`'s
/// `reason` label says it. The order is the metrics board's (`PYRPC_REFUSALS`).
public enum RefusalReason: Int, CaseIterable, Sendable {
    case maxConnections
    case maxConnectionsPerIP
    case maxBufferedBytes
    case messageTimeout
    case tlsHandshake

    public var label: String {
        switch self {
        case .maxConnections: "max_connections"
        case .maxConnectionsPerIP: "max_connections_per_ip"
        case .maxBufferedBytes: "max_buffered_bytes"
        case .messageTimeout: "message_timeout"
        case .tlsHandshake: "tls_handshake"
        }
    }
}

/// How a deploy was answered, as `pyrpc_deploys_total`'s `result` label says it.
public enum DeployOutcome: Int, CaseIterable, Sendable {
    case applied
    case unchanged
    case rejected

    public var label: String {
        switch self {
        case .applied: "applied"
        case .unchanged: "unchanged"
        case .rejected: "rejected"
        }
    }
}
