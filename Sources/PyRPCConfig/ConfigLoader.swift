/// Loads init.yaml into a `NetworkConfig`.
///
/// ```swift
/// do {
///     let network = try ConfigLoader.load(path: "init.yaml")
///     print(network.servers.map(\.name))
/// } catch {
///     print(error)   // init.yaml:7:19: unknown server 's3' in providers of service 'calc'; ...
/// }
/// ```
/// Script files are not opened here; see `NetworkConfig.missingSources()`.
public enum ConfigLoader {
    /// Reads and parses the file at `path`; relative paths (`src`, `python` folders, `tls`
    /// files) resolve against its folder.
    public static func load(path: String) throws(ConfigError) -> NetworkConfig {
        let bytes: [UInt8]
        switch FilePaths.read(path) {
        case .success(let content):
            bytes = content
        case .failure(let failure):
            throw ConfigError(file: path, line: 0, column: 0, message: "cannot read \(path): \(failure.reason)")
        }
        let folder = FilePaths.absolute(FilePaths.directory(of: path))
        let baseDirectory = FilePaths.canonical(folder) ?? folder
        return try parse(bytes: bytes, file: path, baseDirectory: baseDirectory)
    }

    /// Parses YAML text. `file` is used in errors and `NetworkConfig.file`; relative paths
    /// (`src`, `python` folders, `tls` files) resolve against `baseDirectory` (itself made
    /// absolute against the current directory).
    public static func parse(yaml: String, file: String, baseDirectory: String) throws(ConfigError) -> NetworkConfig {
        try parse(bytes: Array(yaml.utf8), file: file, baseDirectory: FilePaths.absolute(baseDirectory))
    }

    static func parse(bytes: [UInt8], file: String, baseDirectory: String) throws(ConfigError) -> NetworkConfig {
        let root = try YAMLDocument.parse(bytes, file: file)
        return try TopLevel.read(root, file: file, baseDirectory: baseDirectory)
    }
}
