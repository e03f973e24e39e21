#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file-system operations the loader needs, on plain C calls.
enum FilePaths {
    /// The whole content of a file, or the reason it cannot be read (`strerror` text).
    static func read(_ path: String) -> Result<[UInt8], FileReadError> {
        guard let handle = fopen(path, "rb") else { return .failure(FileReadError(errno)) }
        defer { fclose(handle) }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, handle) }
            content.append(contentsOf: chunk.prefix(count))
            if count < chunk.count {
                // Reading a directory "opens" fine and fails here with EISDIR.
                if ferror(handle) != 0 { return .failure(FileReadError(errno)) }
                return .success(content)
            }
        }
    }

    /// `path` made absolute against the current directory, with `.` parts and doubled
    /// slashes removed. `..` is kept: only the file system knows what it means under symlinks.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return clean(path) }
        return clean(currentDirectory() + "/" + path)
    }

    /// `relative` resolved against `base`, unless it is already absolute.
    static func resolve(_ relative: String, against base: String) -> String {
        if relative.hasPrefix("/") { return clean(relative) }
        return clean(base + "/" + relative)
    }

    /// The folder part of a path; `/` for files at the root.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    /// The canonical form of an existing path (symlinks and `..` resolved), if it exists.
    static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFREG
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func currentDirectory() -> String {
        guard let buffer = getcwd(nil, 0) else { return "." }
        defer { free(buffer) }
        return String(cString: buffer)
    }

    static func clean(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}

/// Why a file could not be read, as the C library words it.
struct FileReadError: Error, Sendable {
    let code: Int32

    init(_ code: Int32) { self.code = code }

    var reason: String { String(cString: strerror(code)) }
}
