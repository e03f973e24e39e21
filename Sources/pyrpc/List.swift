import ArgumentParser
import PyRPCWire

/// `pyrpc ls [SERVER]`.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the RPCs each server has deployed, with signatures and short script hashes.")

    @OptionGroup var query: AdminQuery

    func run() async throws {
        let (replies, failures) = try await query.replies(Header.listRequest, ListReply.init)
        for (name, listing) in replies {
            print("\(name) (generation \(listing.generation), \(listing.rpcs.count) rpc\(listing.rpcs.count == 1 ? "" : "s"))")
            for rpc in listing.rpcs {
                let label = "\(rpc.service).\(rpc.rpc)"
                print("  \(label.padding(toLength: max(label.count, 18), withPad: " ", startingAt: 0))  (\(rpc.arguments.joined(separator: ", "))) -> (\(rpc.returns.joined(separator: ", ")))  \(rpc.hash.prefix(12))")
            }
        }
        if failures > 0 { throw CLIExit(code: 3) }
    }
}
