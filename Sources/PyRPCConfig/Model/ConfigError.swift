/// A problem in init.yaml, with the position it was found at.
///
/// ```swift
/// do { _ = try ConfigLoader.load(path: "init.yaml") }
/// catch { print(error) }   // init.yaml:7:19: unknown server 's3' in providers of service 'calc'; ...
/// ```
/// `line` and `column` are 1-based. Problems that have no position in the file (it could not
/// be read at all) use line 0 and column 0, and their description leaves the position out.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `FILE:LINE:COLUMN: message`, the format compilers use, so editors can jump to it.
    public var description: String {
        guard line > 0 else { return "\(file): \(message)" }
        return "\(file):\(line):\(column): \(message)"
    }
}
