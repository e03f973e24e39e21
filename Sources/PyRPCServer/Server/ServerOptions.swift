import PyRPCTLS
import PyRPCWire

/// Limits and behaviour of one server, with the defaults of SPEC §8.
public struct ServerOptions: Sendable, Codable {
    /// Largest accepted message, in bytes. Larger ones get `Bad Request`.
    public var maxMessageBytes = 16 << 20
    /// A connection with no traffic and no call in flight for this long is closed (seconds).
    public var idleTimeout: Double = 300
    /// The longest a call may run (seconds); per-rpc and per-request limits can only shorten it.
    public var callTimeout: Double = 30
    /// Calls waiting for a Python worker beyond this many get `Server Busy`.
    public var maxPendingCalls = 1024
    /// Worker threads running Python, besides the I/O threads that run the quick calls they
    /// read. Blocking calls overlap at least this many; an I/O loop also starts up to this
    /// many extra threads to keep serving its sockets while calls block.
    public var pythonWorkers = 8
    /// On SIGINT/SIGTERM, how long calls in flight may take to finish (seconds).
    public var shutdownGrace: Double = 10
    /// Put Python tracebacks into `Execution Exception` messages.
    public var debug = false
    /// Where deployed state is kept; nil keeps it in memory only.
    public var stateDirectory: String?
    /// When set, deploys must carry this token.
    public var deployToken: String?
    /// Open connections, in all and from one IP address; over either, a new connection is
    /// closed at once. The per-address limit is off (0) unless set: behind a load balancer,
    /// a NAT or on one busy application host every connection comes from one address.
    public var maxConnections = 10_000
    public var maxConnectionsPerAddress = 0
    /// Input not yet framed plus answers not yet written, all connections together; past it,
    /// the connections holding the most get `Bad Request` and are closed.
    public var maxBufferedBytes = 256 << 20
    /// The script bytes one deploy may name or send (`--max-deploy-bytes`); scripts larger
    /// than a message travel in pieces (DEPLOY-PIECES), held until the deploy names them.
    public var maxDeployBytes = 1 << 30
    /// A message that has started arriving must end within this many seconds (slowloris).
    public var messageTimeout: Double = 30
    /// `--tls-cert`, `--tls-key`, `--tls-client-ca`: the server speaks TLS only.
    public var tls: TLSFiles?
    /// `--venv`: the virtual environment scripts import from, over the one deploys name.
    public var venv: String?
    /// The import path the server starts with (init.yaml's `python:` for it, with `venv`
    /// applied); nil: the one its stored state names. Applied by `PyRPCServer.useStartEnvironment`.
    public var python: PythonEnvironment?
    /// A worker process (`--processes`) whose call is stuck this long past its deadline (it was
    /// answered Timeout but ignores the interrupt, or waits in C) is replaced (seconds).
    public var harakiriGrace: Double = 10
    /// A worker process is replaced gracefully after about this many calls (`--max-requests`;
    /// up to 10% more, at random) or past this resident size (`--max-rss`, MiB).
    public var maxRequests: Int?
    public var maxResidentMegabytes: Int?
    /// I/O loops; nil sizes them by the cores this process may use (`EventLoops.count`).
    /// Set by tests, to run several loops on a machine with few cores.
    var ioLoops: Int?

    public init() {}
}

/// How a server runs: on its own, or as one of a supervisor's worker processes
/// (`pyrpc serve --processes N`), whose state on disk the supervisor writes.
public enum ServerRole: Sendable {
    case alone
    /// `siblings`: the other workers accepting on the same listener (`--processes` minus one).
    case worker(siblings: Int)

    var siblings: Int {
        if case .worker(let siblings) = self { return siblings }
        return 0
    }
}

/// A server's certificate chain and key (PEM files), and the CA its clients' certificates
/// must be signed by (mutual TLS) if any.
public struct TLSFiles: Sendable, Codable, Equatable {
    public var certificate: String
    public var key: String
    public var clientCA: String?
    /// Names of the operator's certificate (CN or DNS SAN): a client presenting a verified
    /// certificate with one of them may deploy and see everything, as this host may.
    public var operators: [String]
    /// Session-ticket keys all of a server's workers share (80 random bytes the supervisor
    /// makes), so a client resumes its session whichever worker it reaches. Nil: each
    /// context makes its own.
    public var ticketKeys: [UInt8]?
    /// The files' contents as the supervisor last read them (at start, on SIGHUP); a worker
    /// uses these rather than the files (see `TLSMaterial`). Nil: read the files.
    public var material: TLSMaterial?

    public init(certificate: String, key: String, clientCA: String? = nil, operators: [String] = [], ticketKeys: [UInt8]? = nil) {
        self.certificate = certificate
        self.key = key
        self.clientCA = clientCA
        self.operators = operators
        self.ticketKeys = ticketKeys
    }

    /// The OpenSSL context they make (from `material` when the supervisor gave it), or why
    /// they do not.
    public func context() throws(TLSError) -> TLSContext {
        guard let material else { return try load().context }
        return try TLSContext(material: material, ticketKeys: ticketKeys)
    }

    /// The files' contents now, and the context they make: a certificate, key or CA that does
    /// not load, or a key that is not the certificate's, is an error naming the files.
    public func load() throws(TLSError) -> (material: TLSMaterial, context: TLSContext) {
        let material = try TLSMaterial.read(certificate: certificate, key: key, clientCA: clientCA)
        do {
            return (material, try TLSContext(material: material, ticketKeys: ticketKeys))
        } catch {
            throw TLSError(plain: "\(certificate), \(key)\(clientCA.map { ", \($0)" } ?? ""): \(error)")
        }
    }
}
