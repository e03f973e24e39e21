import Foundation
import XCTest
import PyRPCConfig

/// Loading from disk: base directory, missing files, missing sources.
final class LoadTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("pyrpc-config-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("services/calc"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ text: String, to relative: String) throws -> String {
        let url = folder.appendingPathComponent(relative)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testLoadResolvesSourcesAgainstTheFilesFolder() throws {
        let path = try write(canonicalYAML, to: "init.yaml")
        _ = try write("def add(a, b):\n    return a + b\n", to: "services/calc/add.py")

        let config = try ConfigLoader.load(path: path)
        let base = try XCTUnwrap(realpath(folder.path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        })
        XCTAssertEqual(config.file, path)
        XCTAssertEqual(config.baseDirectory, base)
        XCTAssertEqual(config.allRPCs.map(\.source), [base + "/services/calc/add.py", base + "/services/calc/add_float.py"])
        XCTAssertEqual(config.missingSources().map(\.sourceAsWritten), ["services/calc/add_float.py"])

        _ = try write("def add(a, b):\n    return a + b\n", to: "services/calc/add_float.py")
        XCTAssertEqual(config.missingSources(), [])
    }

    func testLoadWithRelativePath() throws {
        _ = try write(canonicalYAML, to: "init.yaml")
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(folder.appendingPathComponent("services").path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

        let config = try ConfigLoader.load(path: "../init.yaml")
        XCTAssertEqual(config.file, "../init.yaml")
        XCTAssertFalse(config.baseDirectory.contains(".."), config.baseDirectory)
        XCTAssertTrue(config.baseDirectory.hasSuffix(folder.lastPathComponent), config.baseDirectory)
    }

    func testMissingFile() {
        let path = folder.appendingPathComponent("nope.yaml").path
        XCTAssertThrowsError(try ConfigLoader.load(path: path)) { error in
            guard let error = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.file, path)
            XCTAssertEqual(error.line, 0)
            XCTAssertEqual(error.column, 0)
            XCTAssertEqual(error.message, "cannot read \(path): No such file or directory")
            XCTAssertEqual(error.description, "\(path): cannot read \(path): No such file or directory")
        }
    }

    func testDirectoryIsNotAFile() {
        XCTAssertThrowsError(try ConfigLoader.load(path: folder.path)) { error in
            guard let error = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.line, 0)
            XCTAssertTrue(error.message.hasPrefix("cannot read \(self.folder.path): "), error.message)
        }
    }

    func testErrorsFromDiskCarryThePathAsGiven() throws {
        let path = try write("network:\n  servers: {s1: {ip: 127.0.0.1, port: 0}}\nservice: []\n", to: "bad.yaml")
        XCTAssertThrowsError(try ConfigLoader.load(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path):2:39: expected the port of server 's1' (a whole number from 1 to 65535), found '0'")
        }
    }

    func testInvalidUTF8IsReportedWithPosition() throws {
        let url = folder.appendingPathComponent("binary.yaml")
        var bytes = Array("network:\n  servers: ".utf8)
        bytes.append(0xFF)
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try ConfigLoader.load(path: url.path)) { error in
            guard let error = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.line, 2)
            XCTAssertEqual(error.column, 12)
            XCTAssertTrue(error.message.contains("invalid YAML text"), error.message)
        }
    }
}
