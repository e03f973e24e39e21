import ArgumentParser
import Foundation
import PyRPCConfig

/// Options every command that reads init.yaml shares.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The network description to read.")
    var config: String = "init.yaml"

    func load(required: Bool = true) throws -> NetworkConfig? {
        try loadNetwork(config, required: required)
    }
}

/// Reads init.yaml; a missing or invalid file is a usage error (exit 2) with file:line:column.
func loadNetwork(_ path: String, required: Bool = true) throws -> NetworkConfig? {
    if !required && !FileManager.default.fileExists(atPath: path) { return nil }
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        throw CLIExit.usage("\(error)")
    }
}
