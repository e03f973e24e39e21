import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCServer
import PyRPCWire
import XCTest

/// A real server on a free loopback port, serving scripts written to a temporary folder and
/// declared by an init.yaml text (its server ports are ignored: the server binds port 0).
final class TestNetwork: @unchecked Sendable {
    let server: PyRPCServer
    let host: String
    let port: Int
    let folder: URL
    let config: NetworkConfig

    private init(server: PyRPCServer, host: String, port: Int, folder: URL, config: NetworkConfig) {
        self.server = server
        self.host = host
        self.port = port
        self.folder = folder
        self.config = config
    }

    static func start(
        yaml: String, scripts: [String: String], serverName: String = "s1", host: String = "127.0.0.1",
        options: ServerOptions = ServerOptions()
    ) async throws -> TestNetwork {
        let folder = try makeTemporaryFolder()
        try writeFiles(scripts.merging(["init.yaml": yaml]) { $1 }, in: folder)
        let config = try ConfigLoader.load(path: folder.appendingPathComponent("init.yaml").path)
        let server = try PyRPCServer(name: serverName, options: options)
        let address = try await server.start(host: host, port: 0)
        let built = try ManifestBuilder.build(config, server: serverName)
        try await server.install(built.manifest, sources: built.sources)
        return TestNetwork(server: server, host: host, port: address.port!, folder: folder, config: config)
    }

    func client(_ name: String? = "c1", from localAddress: String? = nil) -> RPCClient {
        RPCClient(host: host, port: port, client: name, localAddress: localAddress)
    }

    func socket(from localAddress: String? = nil) throws -> RawSocket {
        try RawSocket(host: host, port: port, localAddress: localAddress)
    }

    /// Sends one request line and returns the answer envelope's JSON.
    func roundTrip(_ line: String) throws -> JSONValue {
        let socket = try socket()
        defer { socket.close() }
        try socket.send(line + "\n")
        return try JSONParser.parse(try socket.readLine())
    }

    func stop() async {
        await server.stop()
        try? FileManager.default.removeItem(at: folder)
    }
}

func makeTemporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pyrpc-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes each text to its path under `folder`, making the folders it needs.
func writeFiles(_ files: [String: String], in folder: URL) throws {
    for (path, text) in files {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}

/// Builds an RPC-REQ line.
func requestLine(
    service: String = "calc", rpc: String = "add", arguments: [JSONValue], types: [String], returns: [String],
    client: String? = "c1", id: JSONValue? = nil, timeout: Double? = nil
) -> String {
    let request = RPCRequest(
        client: client, service: service, rpc: rpc, arguments: arguments, argumentTypes: types, returnTypes: returns,
        id: id, timeout: timeout)
    return String(decoding: request.encoded().dropLast(), as: UTF8.self)
}

extension JSONValue {
    var header: String? { self["header"]?.stringValue ?? self["type"]?.stringValue }
    var returnValues: [JSONValue]? { self["value"]?["return-values"]?.arrayValue }
    var exceptionType: String? { self["value"]?["exception-type"]?.stringValue }
    var exceptionMessage: String? { self["value"]?["exception-message"]?.stringValue }
}
