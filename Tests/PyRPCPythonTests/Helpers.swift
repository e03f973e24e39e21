import Foundation
import XCTest
@testable import PyRPCPython
import PyRPCWire

/// One pool shared by the conversion and loading tests (the interpreter is process-wide).
let sharedPool = PythonWorkerPool(name: "tests", workers: 2, maxPending: 64)

/// A module name no other test uses.
func uniqueModule(_ prefix: String = "t") -> String {
    "\(prefix)_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
}

/// What a call through the server's path gave: the answer's JSON text read back as values of
/// the declared return types, as a client reads them.
enum CallOutcome: Equatable {
    case returned([JSONValue])
    case raised(summary: String, traceback: String)
    case badReturn(String)
    case interrupted
    case invalidArguments(String)
    case malformed(String)
}

extension PythonFunction {
    /// Calls the function the way the server does (`callEncoded`): the arguments as the JSON
    /// text a client sends, the return values written as JSON text and read back.
    func call(_ arguments: [JSONValue], types: [RPCType], returns: [RPCType], _ gil: borrowing GIL) -> CallOutcome {
        var request = JSONWriter(capacity: 64)
        request.value(.array(arguments))
        var answer = JSONWriter(capacity: 64)
        switch callEncoded(rawArguments: ArgumentBytes(request.bytes), values: [], types: types, returns: returns, into: &answer, gil) {
        case .returned:
            guard case .array(let items)? = try? JSONParser.parse(answer.bytes), items.count == returns.count else {
                return .badReturn("unreadable answer: \(String(decoding: answer.bytes, as: UTF8.self))")
            }
            var values: [JSONValue] = []
            for (item, type) in zip(items, returns) {
                guard let value = try? ValueCoercion.coerce(item, to: type) else {
                    return .badReturn("answer \(item) does not read as \(type)")
                }
                values.append(value)
            }
            return .returned(values)
        case .invalidArguments(let message): return .invalidArguments(message)
        case .malformed(let message): return .malformed(message)
        case .raised(let summary, let traceback): return .raised(summary: summary, traceback: traceback)
        case .badReturn(let message): return .badReturn(message)
        case .interrupted: return .interrupted
        }
    }
}

/// Loads `source`, calls `function` once with `arguments`, unloads, and returns what happened.
func callOnce(
    _ source: String, _ arguments: [JSONValue] = [], types: [RPCType] = [], returns: [RPCType],
    function: String = "f", path: String = "/scripts/test.py", pool: PythonWorkerPool = sharedPool
) async throws -> CallOutcome {
    let module = uniqueModule()
    let result: Result<CallOutcome, ScriptLoadError> = await pool.perform { gil in
        do throws(ScriptLoadError) {
            let script = try LoadedScript.load(source: source, path: path, moduleName: module, gil)
            defer { script.unload(gil) }
            let callable = try script.function(named: function, gil)
            defer { callable.dispose(gil) }
            return .success(callable.call(arguments, types: types, returns: returns, gil))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

/// Calls `def f(x): return x` with one value of `type` and returns what came back.
func echo(_ value: JSONValue, _ type: RPCType, file: StaticString = #filePath, line: UInt = #line) async throws -> JSONValue? {
    let outcome = try await callOnce("def f(x):\n    return x\n", [value], types: [type], returns: [type])
    guard case .returned(let values) = outcome, values.count == 1 else {
        XCTFail("echo of \(value) as \(type): \(outcome)", file: file, line: line)
        return nil
    }
    return values[0]
}

/// The single returned value of an outcome, failing otherwise.
func single(_ outcome: CallOutcome, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
    guard case .returned(let values) = outcome, values.count == 1 else {
        XCTFail("expected one returned value, got \(outcome)", file: file, line: line)
        return nil
    }
    return values[0]
}

/// Loads a script and keeps it (for tests that call several times).
func load(_ source: String, path: String = "/scripts/test.py", module: String = uniqueModule(), pool: PythonWorkerPool = sharedPool)
    async throws -> LoadedScript
{
    let result: Result<LoadedScript, ScriptLoadError> = await pool.perform { gil in
        do throws(ScriptLoadError) {
            return .success(try LoadedScript.load(source: source, path: path, moduleName: module, gil))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

/// The error from loading `source` (and looking up `function`), failing the test when it loads.
func loadError(
    _ source: String, function: String = "f", path: String = "/scripts/bad.py",
    file: StaticString = #filePath, line: UInt = #line
) async -> ScriptLoadError? {
    let module = uniqueModule()
    let result: Result<Void, ScriptLoadError> = await sharedPool.perform { gil in
        do throws(ScriptLoadError) {
            let script = try LoadedScript.load(source: source, path: path, moduleName: module, gil)
            defer { script.unload(gil) }
            let callable = try script.function(named: function, gil)
            callable.dispose(gil)
            return .success(())
        } catch {
            return .failure(error)
        }
    }
    if case .failure(let error) = result { return error }
    XCTFail("expected \(source.debugDescription) not to load", file: file, line: line)
    return nil
}

extension LoadedScript {
    /// Looks up and calls `name` once on `pool`.
    func call(
        _ name: String, _ arguments: [JSONValue] = [], types: [RPCType] = [], returns: [RPCType], pool: PythonWorkerPool = sharedPool
    ) async throws -> CallOutcome {
        let result: Result<CallOutcome, ScriptLoadError> = await pool.perform { gil in
            do throws(ScriptLoadError) {
                let callable = try self.function(named: name, gil)
                defer { callable.dispose(gil) }
                return .success(callable.call(arguments, types: types, returns: returns, gil))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    func unload(pool: PythonWorkerPool = sharedPool) async {
        await pool.perform { gil in self.unload(gil) }
    }
}

/// Thread-safe storage for values set by job callbacks.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T

    init(_ value: T) { stored = value }

    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}

/// Seconds since `start`.
func elapsed(since start: ContinuousClock.Instant) -> Double {
    let duration = ContinuousClock.now - start
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
