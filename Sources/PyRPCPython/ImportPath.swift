import CPython
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// A venv or import folder the interpreter cannot use, and what to do about it.
public struct ImportPathError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What using an environment did.
public enum ImportPathChange: Sendable, Equatable {
    /// The environment was already in effect.
    case unchanged
    /// Its folders are on `sys.path` now.
    case applied
    /// Another environment is in effect and modules may already come from it: this one takes
    /// effect when the interpreter next starts.
    case atNextStart
}

/// The interpreter's import path (`sys.path`): which venv and extra folders the scripts
/// import from. One interpreter per process, so one environment per process; nothing is run
/// from the venv's `bin`, its `site-packages` is added as `site.addsitedir` does (`.pth`
/// files included), ahead of the interpreter's own.
public enum ImportPath {
    /// The environments in effect, in the order they were applied. Touched only with the GIL.
    nonisolated(unsafe) private static var inEffect: [PythonEnvironment] = []

    /// Puts `environment` on `sys.path` if no other one is in effect (or `adding`, for the
    /// several servers of one `pyrpc up` process at start); otherwise it waits for the next start.
    public static func use(_ environment: PythonEnvironment, adding: Bool = false, _ gil: borrowing GIL) throws(ImportPathError) -> ImportPathChange {
        if inEffect.contains(environment) || (environment.isEmpty && inEffect.isEmpty) { return .unchanged }
        if !inEffect.isEmpty, !adding { return .atNextStart }
        var siteDirectories: [String] = []
        var keepSystem = true
        if let venv = environment.venv {
            let checked = try check(venv: venv)
            siteDirectories.append(checked.sitePackages)
            keepSystem = checked.includesSystemSitePackages
        }
        for folder in environment.path where !isDirectory(folder) {
            throw ImportPathError(message: "the import folder \(folder) does not exist on this server")
        }
        guard let function = PyRef.owning(PyObject_GetAttrString(PyImport_AddModule(PythonBootstrap.moduleName), "use_environment")),
              let sites = stringList(siteDirectories), let extra = stringList(environment.path),
              let arguments = PyRef.owning(PyTuple_New(3))
        else {
            throw ImportPathError(message: "cannot set sys.path: \(PythonException.fetch(gil).summary)")
        }
        PyTuple_SET_ITEM(arguments.pointer, 0, sites.release())
        PyTuple_SET_ITEM(arguments.pointer, 1, extra.release())
        PyTuple_SET_ITEM(arguments.pointer, 2, pyrpc_bool(keepSystem ? 1 : 0))
        guard PyRef.owning(PyObject_Call(function.pointer, arguments.pointer, nil)) != nil else {
            throw ImportPathError(message: "cannot set sys.path for \(environment): \(PythonException.fetch(gil).summary)")
        }
        inEffect.append(environment)
        return .applied
    }

    /// `sys.path` as the scripts see it, for messages about imports that failed.
    public static func current(_ gil: borrowing GIL) -> [String] {
        guard let path = PySys_GetObject("path"), pyrpc_is_list(path) != 0 else { return [] }
        return (0..<PyList_GET_SIZE(path)).compactMap { index in
            pyrpc_list_get(path, index).flatMap { PythonText.string($0) }
        }
    }

    /// The venv's `site-packages` folder, after checking it was made for this interpreter's
    /// Python version (its `pyvenv.cfg`).
    static func check(venv: String) throws(ImportPathError) -> (sitePackages: String, includesSystemSitePackages: Bool) {
        guard isDirectory(venv) else {
            throw ImportPathError(message: "the venv \(venv) does not exist on this server; make it there with `/usr/bin/python\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION) -m venv \(venv)`")
        }
        guard let config = readText(venv + "/pyvenv.cfg") else {
            throw ImportPathError(message: "\(venv) is not a virtual environment (no pyvenv.cfg); make one with `/usr/bin/python\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION) -m venv \(venv)`")
        }
        let settings = VenvConfig(config)
        let embedded = "\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION)"
        if let made = settings.pythonVersion, made != embedded {
            throw ImportPathError(message: "the venv \(venv) was made for Python \(made) (its pyvenv.cfg), but this server embeds Python \(embedded); make it again with `/usr/bin/python\(embedded) -m venv \(venv)`")
        }
        let sitePackages = "\(venv)/lib/python\(embedded)/site-packages"
        guard isDirectory(sitePackages) else {
            throw ImportPathError(message: "the venv \(venv) has no lib/python\(embedded)/site-packages; was it made for Python \(embedded)?")
        }
        return (sitePackages, settings.includesSystemSitePackages)
    }

    private static func stringList(_ texts: [String]) -> PyRef? {
        guard let list = PyRef.owning(PyList_New(texts.count)) else { return nil }
        for (index, text) in texts.enumerated() {
            guard let item = PythonText.make(text) else { return nil }
            PyList_SET_ITEM(list.pointer, index, item.release())
        }
        return list
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes += chunk.prefix(count)
            if count < chunk.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The `key = value` lines of a venv's `pyvenv.cfg`.
struct VenvConfig {
    private var values: [String: String] = [:]

    init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[Self.trimmed(line[..<equals]).lowercased()] = Self.trimmed(line[line.index(after: equals)...])
        }
    }

    /// `3.11` from `version = 3.11.2` (venv) or `version_info = 3.11.2.final.0` (virtualenv).
    var pythonVersion: String? {
        guard let full = values["version"] ?? values["version_info"] else { return nil }
        let parts = full.split(separator: ".")
        guard parts.count >= 2 else { return nil }
        return "\(parts[0]).\(parts[1])"
    }

    private static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }

    var includesSystemSitePackages: Bool {
        values["include-system-site-packages"]?.lowercased() == "true"
    }
}
