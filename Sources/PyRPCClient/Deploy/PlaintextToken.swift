import PyRPCWire

/// The deploy token lets its holder run code on a server: it never crosses a network in
/// plain text unless the user says so (`--insecure-plaintext-token`). Traffic to this
/// machine's own addresses never leaves it.
public enum PlaintextToken {
    /// Why the token may not go to `host` in plain text; nil when it stays on this machine.
    public static func refusal(host: String, port: Int) -> String? {
        guard !ThisHost.owns(host) else { return nil }
        return "refusing to send the deploy token in plain text to \(host):\(port), where anyone on the path could read it and deploy code with it; deploy from the server's own machine, or pass --insecure-plaintext-token to send it anyway"
    }
}
