/// The `exception-type` of an RPC-EX answer (SPEC §2). A struct rather than an enum so a
/// client can still represent a type that a newer server sends.
public struct ExceptionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let serviceNotFound = ExceptionType(rawValue: "Service Not Found")
    public static let rpcNotFound = ExceptionType(rawValue: "RPC Not Found")
    public static let clientNotRegistered = ExceptionType(rawValue: "Client Not Registered")
    public static let invalidArguments = ExceptionType(rawValue: "Invalid Arguments")
    public static let executionException = ExceptionType(rawValue: "Execution Exception")
    public static let timeout = ExceptionType(rawValue: "Timeout")
    public static let badRequest = ExceptionType(rawValue: "Bad Request")
    public static let serverBusy = ExceptionType(rawValue: "Server Busy")
    /// Not in the course table: a deploy was refused (bad token, failed compile...).
    public static let deployRejected = ExceptionType(rawValue: "Deploy Rejected")
}

/// An RPC-EX answer: what went wrong, in words that say what to fix.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var type: ExceptionType
    public var message: String
    /// The request's `id`, echoed back.
    public var id: JSONValue?

    public init(_ type: ExceptionType, _ message: String, id: JSONValue? = nil) {
        self.type = type
        self.message = message
        self.id = id
    }

    public var description: String { message.isEmpty ? type.rawValue : "\(type.rawValue): \(message)" }

    public static func badRequest(_ message: String, id: JSONValue? = nil) -> RPCError {
        RPCError(.badRequest, message, id: id)
    }
}
