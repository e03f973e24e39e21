/// How much one deploy may send, and in how large messages (SPEC §6).
struct DeployLimits: Sendable {
    /// The longest message a deployer should send, as DEPLOY-NEED says it: the message limit,
    /// or half the buffered-input budget when that is smaller, since a deploy's messages are
    /// input like any other and must not need all of it.
    let messageBytes: Int
    /// `--max-deploy-bytes`.
    let maxDeployBytes: Int

    init(_ options: ServerOptions) {
        messageBytes = min(options.maxMessageBytes, max(options.maxBufferedBytes / 2, 1))
        maxDeployBytes = options.maxDeployBytes
    }
}
