import ArgumentParser
import Foundation

/// `pyrpc`: host plain Python functions as RPC services.
struct PyRPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pyrpc",
        abstract: "Host plain Python functions as network RPC services.",
        discussion: """
            Quick start: `pyrpc up` serves the network of ./init.yaml on this machine, then
            `pyrpc call calc add 2 3` calls it.
            Exit codes: 0 success, 1 the server answered with an RPC exception, 2 usage or
            configuration error, 3 network error.
            """,
        subcommands: [Up.self, Serve.self, Deploy.self, Call.self, List.self, Stats.self])
}

/// Ends the command with an exit code after printing `message` to stderr.
struct CLIExit: Error {
    var code: Int32
    var message: String?

    static func usage(_ message: String) -> CLIExit { CLIExit(code: 2, message: message) }
    static func network(_ message: String) -> CLIExit { CLIExit(code: 3, message: message) }
    static func rpc(_ message: String) -> CLIExit { CLIExit(code: 1, message: message) }
}

@main
enum Main {
    static func main() async {
        do {
            var command = try PyRPCCommand.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as CLIExit {
            if let message = exit.message { printError(message) }
            Foundation.exit(exit.code)
        } catch {
            // Help and --version exit 0; every parsing or validation error is a usage error (2).
            if PyRPCCommand.exitCode(for: error) == .success { PyRPCCommand.exit(withError: error) }
            printError(PyRPCCommand.fullMessage(for: error))
            Foundation.exit(2)
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
}
