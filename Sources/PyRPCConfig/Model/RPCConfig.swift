import PyRPCWire

/// One overload of an RPC: its signature and the Python script that implements it.
///
/// An RPC is identified by (service, name, argument types); the loader guarantees that no two
/// `RPCConfig`s of a network share that identity.
public struct RPCConfig: Sendable, Equatable {
    public var service: String
    public var name: String
    public var signature: Signature
    /// Absolute path of the script: the yaml file's folder joined with `src`, unless `src`
    /// is already absolute.
    public var source: String
    /// `src` exactly as written in the file.
    public var sourceAsWritten: String
    /// The Python function to call; the `function:` key, or the RPC name.
    public var function: String
    /// The `timeout:` key in seconds, if given.
    public var timeout: Double?

    public init(
        service: String, name: String, signature: Signature, source: String,
        sourceAsWritten: String? = nil, function: String? = nil, timeout: Double? = nil
    ) {
        self.service = service
        self.name = name
        self.signature = signature
        self.source = source
        self.sourceAsWritten = sourceAsWritten ?? source
        self.function = function ?? name
        self.timeout = timeout
    }
}
