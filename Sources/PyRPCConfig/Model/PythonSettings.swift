import PyRPCWire

/// A server's `python:` settings from init.yaml: the venv and extra folders its scripts import
/// from, resolved against the yaml file's folder, with where each was written.
public struct PythonSettings: Sendable, Equatable {
    public var environment: PythonEnvironment
    /// Where the venv and each path entry were written, for problems found when they are
    /// used (a folder missing on this machine): folder → position.
    var origins: [String: Origin]

    struct Origin: Sendable, Equatable {
        var line: Int
        var column: Int
    }

    public static let none = PythonSettings(environment: .none, origins: [:])
}

extension NetworkConfig {
    /// The folders a server's `python:` names that are not usable on this machine (a venv
    /// without `pyvenv.cfg`, a missing folder), as errors at the line that names them.
    ///
    /// Loading never looks at the file system: the venv lives on the server machine, which
    /// need not be this one. Call this where the server runs (`up`, `serve`) or for servers
    /// on this machine before a deploy.
    public func pythonProblems(server name: String) -> [ConfigError] {
        guard let server = server(named: name) else { return [] }
        let settings = server.python
        var problems: [ConfigError] = []
        func problem(_ folder: String, _ message: String) {
            let origin = settings.origins[folder] ?? PythonSettings.Origin(line: 0, column: 0)
            problems.append(ConfigError(file: file, line: origin.line, column: origin.column, message: message))
        }
        if let venv = settings.environment.venv {
            if !FilePaths.isDirectory(venv) {
                problem(venv, "the venv of server '\(name)', \(venv), does not exist; make it with `/usr/bin/python3 -m venv \(venv)`")
            } else if !FilePaths.isRegularFile(venv + "/pyvenv.cfg") {
                problem(venv, "\(venv) (the venv of server '\(name)') is not a virtual environment: it has no pyvenv.cfg; make one with `/usr/bin/python3 -m venv \(venv)`")
            }
        }
        for folder in settings.environment.path where !FilePaths.isDirectory(folder) {
            problem(folder, "the folder \(folder) in the python path of server '\(name)' does not exist")
        }
        return problems
    }
}
