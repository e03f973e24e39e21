import Foundation
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// A server's deployed state on disk: scripts stored by hash, and the manifest.
///
/// Every file is written to a temporary name, fsynced, renamed into place, and the folder
/// fsynced, so a crash (even SIGKILL) leaves either the old file or the new one. Scripts
/// are written before the manifest that names them and deleted only after a newer manifest
/// no longer does, so the manifest on disk always names scripts that are there: a restart
/// sees the old state or the new one, never a mix.
public final class StateStore: Sendable {
    public let directory: String
    private var scriptsDirectory: String { directory + "/scripts" }
    private var manifestPath: String { directory + "/manifest.json" }
    private var generationPath: String { directory + "/generation" }

    public init(directory: String) throws {
        // Made absolute now: a script's os.chdir must not move where later deploys are kept.
        self.directory = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        for folder in [self.directory, self.directory + "/scripts"] {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw DeployError(message: "cannot create the state directory \(folder): \(error.localizedDescription)")
            }
        }
    }

    /// `~/.local/state/pyrpc/<server>` (or `$XDG_STATE_HOME/pyrpc/<server>`).
    public static func defaultDirectory(server: String) -> String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? FileManager.default.currentDirectoryPath) + "/.local/state"
        return "\(base)/pyrpc/\(server)"
    }

    /// The stored text of a script, if present and intact.
    public func script(_ hash: String) -> String? {
        guard hash.allSatisfy(\.isHexDigit),
            let data = FileManager.default.contents(atPath: "\(scriptsDirectory)/\(hash).py"),
            let text = String(data: data, encoding: .utf8),
            ScriptHash.sha256(text) == hash
        else { return nil }
        return text
    }

    public func storeScript(_ hash: String, _ text: String) throws(DeployError) {
        if script(hash) != nil { return }
        try writeAtomically(Array(text.utf8), to: "\(scriptsDirectory)/\(hash).py")
    }

    public func storeManifest(_ manifest: ServerManifest) throws(DeployError) {
        try writeAtomically(Array(manifest.json.jsonText.utf8), to: manifestPath)
    }

    /// The generation number of the stored manifest, kept by a supervisor so that workers
    /// started later count like those already running; nil when not kept.
    public func storeGeneration(_ number: Int) throws(DeployError) {
        try writeAtomically(Array(String(number).utf8), to: generationPath)
    }

    public func loadGeneration() -> Int? {
        FileManager.default.contents(atPath: generationPath).flatMap { Int(String(decoding: $0, as: UTF8.self)) }
    }

    /// The last deployed manifest, or nil before the first deploy.
    public func loadManifest() throws(DeployError) -> ServerManifest? {
        guard let data = FileManager.default.contents(atPath: manifestPath) else { return nil }
        do {
            return try ServerManifest(json: try JSONParser.parse(Array(data)))
        } catch {
            throw DeployError(message: "the stored manifest \(manifestPath) is unreadable: \(error)")
        }
    }

    /// Deletes stored scripts the current manifest no longer names.
    public func removeScripts(except keep: Set<String>) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: scriptsDirectory)) ?? []
        for name in names where name.hasSuffix(".py") && !keep.contains(String(name.dropLast(3))) {
            unlink("\(scriptsDirectory)/\(name)")
        }
    }

    private func writeAtomically(_ bytes: [UInt8], to path: String) throws(DeployError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DeployError(message: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written <= 0 {
                close(fd)
                unlink(temporary)
                throw DeployError(message: "cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            unlink(temporary)
            throw DeployError(message: "cannot flush \(temporary) to disk")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw DeployError(message: "cannot move \(temporary) into place: \(String(cString: strerror(errno)))")
        }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }
}
