import Foundation
import PyRPCWire

/// A client connection that chose MessagePack (it sent 0x00 first): frames out, frames in,
/// through pyrpc's own codec. `PythonMessagePackTests` checks the same server with Python's
/// msgpack package, which shares none of that code.
final class MessagePackSocket {
    let socket: RawSocket

    init(port: Int, timeout: Double = 10) throws {
        socket = try RawSocket(host: "127.0.0.1", port: port, timeout: timeout)
        try socket.send([WireEncoding.messagePackMark])
    }

    func send(_ message: JSONValue) throws {
        try socket.send(MessagePackFrame.frame(MessagePackWriter.encode(message)))
    }

    /// The next answer's envelope, as a value.
    func receive() throws -> JSONValue {
        let header = try socket.read(exactly: 4)
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return try MessagePackReader.decode(socket.read(exactly: length))
    }

    func roundTrip(_ message: JSONValue) throws -> JSONValue {
        try send(message)
        return try receive()
    }

    func close() {
        socket.close()
    }
}

/// An RPC-REQ envelope as a value.
func rpcRequest(
    service: String = "svc", rpc: String, arguments: [JSONValue], types: [String], returns: [String], client: String? = "c1",
    id: JSONValue? = nil, timeout: Double? = nil
) -> JSONValue {
    let envelope = RPCRequest(
        client: client, service: service, rpc: rpc, arguments: arguments, argumentTypes: types, returnTypes: returns, id: id,
        timeout: timeout
    ).envelope
    return .object(["header": .string(envelope.header), "value": .object(envelope.value)])
}
