/// Where a server's scripts import third-party code from: a virtual environment whose
/// `site-packages` goes on `sys.path`, and extra folders. Paths are absolute and name folders
/// on the server machine (the venv is installed there; deploy does not copy it).
public struct PythonEnvironment: Sendable, Equatable, Codable, CustomStringConvertible {
    public var venv: String?
    public var path: [String]

    public init(venv: String? = nil, path: [String] = []) {
        self.venv = venv
        self.path = path
    }

    /// No venv and no extra folders: the embedded interpreter's own `sys.path`.
    public static let none = PythonEnvironment()

    public var isEmpty: Bool { venv == nil && path.isEmpty }

    /// `venv /srv/app/.venv, path /srv/app/lib`, for logs and reports.
    public var description: String {
        if isEmpty { return "no venv" }
        var parts: [String] = []
        if let venv { parts.append("venv \(venv)") }
        if !path.isEmpty { parts.append("path \(path.joined(separator: ":"))") }
        return parts.joined(separator: ", ")
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = ["path": .array(path.map(JSONValue.string))]
        if let venv { fields["venv"] = .string(venv) }
        return .object(fields)
    }

    public init(json: JSONValue) throws(RPCError) {
        guard case .object = json else { throw .badRequest("manifest 'python' must be an object {venv, path}") }
        switch json["venv"] {
        case nil, .null?: venv = nil
        case .string(let folder)?: venv = folder
        default: throw .badRequest("manifest 'python.venv' must be a string")
        }
        path = []
        if let entries = json["path"] {
            guard case .array(let items) = entries else { throw .badRequest("manifest 'python.path' must be a list of strings") }
            for item in items {
                guard case .string(let folder) = item else { throw .badRequest("manifest 'python.path' must be a list of strings") }
                path.append(folder)
            }
        }
    }
}
