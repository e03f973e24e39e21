import Foundation
import XCTest

/// A `ServerProcessTestCase` with certificates made for it (`TestCertificates`) in its
/// folder; skipped, saying why, where the `openssl` command is missing.
class TLSTestCase: ServerProcessTestCase {
    override func setUp() async throws {
        try await super.setUp()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            throw XCTSkip("needs the openssl command to make certificates")
        }
        try TestCertificates.make(in: folder)
    }
}
