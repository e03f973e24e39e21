/// Reads a `python: {venv: DIR, path: [DIR, ...]}` map (top level or inside a server's entry).
/// Both keys are optional; folders are resolved against the yaml file's folder.
struct PythonSection: Sendable {
    var venv: (folder: String, origin: PythonSettings.Origin)?
    var path: [(folder: String, origin: PythonSettings.Origin)]?

    static let keys = [KeySpec("venv"), KeySpec("path")]
    static let example = "{venv: ./.venv, path: [./lib]}"

    init(_ node: YAMLNode, what: String, baseDirectory: String, reader: NodeReader) throws(ConfigError) {
        let fields = try Fields(node, keys: Self.keys, what: what, example: Self.example, reader: reader)
        if let venvNode = fields["venv"], !venvNode.isNull {
            let written = try reader.text(venvNode, expected: "the folder of a virtual environment (e.g. ./.venv)")
            venv = (FilePaths.resolve(written, against: baseDirectory), PythonSettings.Origin(line: venvNode.line, column: venvNode.column))
        }
        if let pathNode = fields["path"] {
            path = try reader.textList(pathNode, expected: "folders to import from (e.g. [./lib])").map { entry in
                (FilePaths.resolve(entry.text, against: baseDirectory), PythonSettings.Origin(line: entry.node.line, column: entry.node.column))
            }
        }
    }

    /// These settings over `base`: each key given here replaces the same key of `base`.
    func settings(over base: PythonSettings) -> PythonSettings {
        var result = base
        if let venv {
            result.environment.venv = venv.folder
            result.origins[venv.folder] = venv.origin
        }
        if let path {
            result.environment.path = path.map(\.folder)
            for entry in path { result.origins[entry.folder] = entry.origin }
        }
        return result
    }
}
