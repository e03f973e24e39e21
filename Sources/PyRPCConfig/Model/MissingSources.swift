extension NetworkConfig {
    /// The RPCs whose `source` is not an existing regular file, in service order.
    ///
    /// Loading never opens scripts, so a config can be checked before the scripts exist;
    /// call this when they are about to be deployed or served.
    public func missingSources() -> [RPCConfig] {
        allRPCs.filter { !FilePaths.isRegularFile($0.source) }
    }
}
