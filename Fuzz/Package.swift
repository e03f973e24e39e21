// swift-tools-version:6.0
// libFuzzer targets for every entry point a peer can reach. Built by `scripts/fuzz` with
// `-sanitize=fuzzer,address` (each target defines LLVMFuzzerTestOneInput and no main), so
// it is a package of its own: the main package's `swift build` never sees these targets.
import PackageDescription

let package = Package(
    name: "pyrpc-fuzz",
    dependencies: [.package(name: "pyrpc", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", .product(name: "PyRPCWire", package: "pyrpc")]),
        .executableTarget(name: "fuzz-request", dependencies: ["FuzzSupport", .product(name: "PyRPCWire", package: "pyrpc")]),
        // The leak check and value builders the Python targets share.
        .target(name: "FuzzPython", dependencies: ["FuzzSupport", .product(name: "PyRPCPython", package: "pyrpc")]),
        .executableTarget(name: "fuzz-arguments", dependencies: [
            "FuzzSupport", "FuzzPython", .product(name: "PyRPCWire", package: "pyrpc"), .product(name: "PyRPCPython", package: "pyrpc"),
        ]),
        .executableTarget(name: "fuzz-results", dependencies: [
            "FuzzSupport", "FuzzPython", .product(name: "PyRPCWire", package: "pyrpc"), .product(name: "PyRPCPython", package: "pyrpc"),
        ]),
        .executableTarget(name: "fuzz-deploy", dependencies: ["FuzzSupport", .product(name: "PyRPCWire", package: "pyrpc")]),
        .executableTarget(name: "fuzz-config", dependencies: ["FuzzSupport", .product(name: "PyRPCConfig", package: "pyrpc")]),
        .executableTarget(name: "fuzz-http", dependencies: ["FuzzSupport", .product(name: "PyRPCWire", package: "pyrpc")]),
        .executableTarget(name: "fuzz-msgpack", dependencies: ["FuzzSupport", .product(name: "PyRPCWire", package: "pyrpc")]),
    ]
)
