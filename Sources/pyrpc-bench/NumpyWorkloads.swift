import Foundation
import PyRPCWire

/// A numpy array as the result (issue 24): `outer` of two 300-element vectors, a 300×300
/// float64 array returned as `List[List[float]]`, written from the array's memory. Over JSON
/// and over MessagePack, in turns, so that their ratio holds on this drifting VM.
///
/// numpy is only in a venv: `PYRPC_NUMPY_VENV`, else ~/.cache/pyrpc/numpy-venv-3.11 (as the
/// tests find it). Without one the rows are skipped, saying why.
extension BenchSuite {
    static let outerJSON = "outer(List[float], List[float]) 300×300 numpy"
    static let outerMessagePack = outerJSON + " MessagePack"

    func numpyWorkloads(duration: Double) async throws {
        guard let venv = Self.numpyVenv() else {
            let reason = "no venv with numpy (set PYRPC_NUMPY_VENV, or make ~/.cache/pyrpc/numpy-venv-3.11 as .ci/run does)"
            say("skipping \(Self.outerJSON): \(reason)")
            report.notes.append("The outer 300×300 numpy rows did not run: \(reason).")
            return
        }
        let server = try await startPyRPC(label: "numpy", venv: venv, extra: [
            ("outer", "[\"List[float]\", \"List[float]\"]", "[\"List[List[float]]\"]", benchmarksFolder.appendingPathComponent("services/outer.py").path),
        ])
        defer { server.stop() }
        // Full-precision doubles, as computations make them (round values would print shorter).
        let a = (0..<300).map { JSONValue.float((Double($0) + 0.5).squareRoot() * 3.7) }
        let b = (0..<300).map { JSONValue.float((Double($0) + 1.5).squareRoot() / 1.3) }
        let json = Self.request("outer", [.array(a), .array(b)], ["List[float]", "List[float]"], ["List[List[float]]"])
        measureInTurns([
            Contender(workload: Self.outerJSON, server: server),
            Contender(workload: Self.outerMessagePack, server: server, request: Self.messagePack(json)),
        ], request: json, mode: .persistent, concurrency: 1, duration: duration)
    }

    /// The numpy venv, if there is one with numpy in it.
    static func numpyVenv() -> String? {
        let venv = ProcessInfo.processInfo.environment["PYRPC_NUMPY_VENV"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSString(string: "~/.cache/pyrpc/numpy-venv-3.11").expandingTildeInPath
        let lib = URL(fileURLWithPath: venv).appendingPathComponent("lib")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        let hasNumpy = versions.contains { version in
            FileManager.default.fileExists(atPath: lib.appendingPathComponent("\(version)/site-packages/numpy/__init__.py").path)
        }
        return hasNumpy ? venv : nil
    }
}
