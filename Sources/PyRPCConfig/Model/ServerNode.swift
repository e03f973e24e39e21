/// A server of the network: `- s1: {ip: 127.0.0.1, port: 8181}`.
public struct ServerNode: Sendable, Equatable {
    public var name: String
    /// As written: an IPv4 or IPv6 address or a host name.
    public var host: String
    /// 1...65535.
    public var port: Int
    /// The venv and import folders of its scripts: its own `python:` keys over the top-level ones.
    public var python: PythonSettings

    public init(name: String, host: String, port: Int, python: PythonSettings = .none) {
        self.name = name
        self.host = host
        self.port = port
        self.python = python
    }
}
