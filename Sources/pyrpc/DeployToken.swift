import Foundation

extension ServerFlags {
    /// The token from --deploy-token-file or PYRPC_DEPLOY_TOKEN.
    func deployToken() throws -> String? {
        try readDeployToken(file: deployTokenFile)
    }
}

func readDeployToken(file: String?) throws -> String? {
    if let file {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw CLIExit.usage("cannot read the deploy token file \(file)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }
    let token = ProcessInfo.processInfo.environment["PYRPC_DEPLOY_TOKEN"] ?? ""
    return token.isEmpty ? nil : token
}
