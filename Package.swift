// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pyrpc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pyrpc", targets: ["pyrpc"]),
        .executable(name: "pyrpc-bench", targets: ["pyrpc-bench"]),
        .library(name: "PyRPCClient", targets: ["PyRPCClient"]),
        .library(name: "PyRPCServer", targets: ["PyRPCServer"]),
        // The layers the fuzz targets (Fuzz/) drive directly.
        .library(name: "PyRPCWire", targets: ["PyRPCWire"]),
        .library(name: "PyRPCPython", targets: ["PyRPCPython"]),
        .library(name: "PyRPCConfig", targets: ["PyRPCConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CPython", pkgConfig: "python3-embed", providers: [.apt(["libpython3-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Linux calls the Glibc module lacks (epoll, eventfd, thread names), for the server's threads.
        .target(name: "CLinux"),

        // Messages, the RPC type grammar, values and the JSON codec. No I/O.
        .target(name: "PyRPCWire", dependencies: ["CLinux", .product(name: "Crypto", package: "swift-crypto")]),
        // The embedded interpreter: the only module that touches PyObject.
        .target(name: "PyRPCPython", dependencies: [
            "CPython", "PyRPCWire", "CLinux",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // TLS through the system's OpenSSL: contexts from PEM files, sessions on sockets.
        .target(name: "PyRPCTLS", dependencies: ["COpenSSL"]),
        // init.yaml -> typed network description.
        .target(name: "PyRPCConfig", dependencies: ["CYAML", "PyRPCWire"]),
        // The TCP server: framing, dispatch, authorisation, registry, deploy.
        .target(name: "PyRPCServer", dependencies: [
            "PyRPCWire", "PyRPCPython", "PyRPCConfig", "PyRPCTLS", "CLinux",
            .product(name: "NIOCore", package: "swift-nio"),
            // Locks ThreadSanitizer can see (pthread); Synchronization.Mutex's futex is invisible to it.
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            // GET /metrics: the Prometheus text format from a registry.
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: uncheckedExclusivityInRelease),
        // The Swift client library (async and blocking) and the deployer.
        .target(name: "PyRPCClient", dependencies: [
            "PyRPCWire", "PyRPCConfig", "PyRPCTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "pyrpc", dependencies: [
            "PyRPCServer", "PyRPCClient", "PyRPCConfig", "PyRPCWire", "PyRPCTLS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The benchmark suite: `swift run -c release pyrpc-bench`.
        .executableTarget(name: "pyrpc-bench", dependencies: [
            "PyRPCServer", "PyRPCClient", "PyRPCConfig", "PyRPCWire", "PyRPCTLS", "CLinux",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),

        .testTarget(name: "PyRPCWireTests", dependencies: ["PyRPCWire"]),
        .testTarget(name: "PyRPCConfigTests", dependencies: ["PyRPCConfig", "PyRPCWire"]),
        .testTarget(name: "PyRPCPythonTests", dependencies: ["PyRPCPython", "PyRPCWire"]),
        .testTarget(name: "PyRPCServerTests", dependencies: [
            "PyRPCServer", "PyRPCClient", "PyRPCConfig", "PyRPCWire",
        ]),
        // The benchmark's own logic: its verdicts, its order of turns, its load generator.
        .testTarget(name: "PyRPCBenchTests", dependencies: ["pyrpc-bench", "PyRPCClient", "PyRPCConfig", "CLinux"]),
    ]
)

/// The server's hot state is touched by one thread at a time (an I/O loop's leader), and its
/// run-time exclusivity checks cost it per call: 0.2 µs on the loop's and the connections'
/// own state (measured when that state was marked `@exclusivity(unchecked)` instead), and
/// 3.5% of its user CPU more inside NIO's inlined `ByteBuffer` code, which no marking of
/// ours can reach. Debug builds, and so every test run, keep the checks.
var uncheckedExclusivityInRelease: [SwiftSetting] {
    [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}
