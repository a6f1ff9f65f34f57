// swift-tools-version:6.0
import PackageDescription

// Kernels and the model are hot loops over raw buffers: compile them without
// bounds/overflow checks in release builds (debug builds keep every check).
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "Shallot",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "shallot", targets: ["shallot"]),
        .library(name: "GPT", targets: ["GPT"]),
        .library(name: "Training", targets: ["Training"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    ],
    targets: [
        // The C BLAS header only. On Linux the library itself is opened at run time
        // (see Kernels/BLAS.swift) so that OpenBLAS's CPU kernel can be chosen first.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .target(name: "Kernels", dependencies: [.target(name: "CBLAS", condition: .when(platforms: [.linux]))],
                swiftSettings: fast,
                linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS])),
                                 .linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "SafeTensors"),
        .target(name: "Tokenizer", swiftSettings: fast),
        .target(name: "GPT", dependencies: ["Kernels", "SafeTensors", "Tokenizer"], swiftSettings: fast),
        .target(name: "Training", dependencies: ["GPT", "Kernels", "SafeTensors", "Tokenizer",
                                                 .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fast),
        .executableTarget(name: "shallot", dependencies: [
            "GPT", "Training", "Kernels", "Tokenizer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"]),
        .testTarget(name: "GPTTests", dependencies: ["GPT", "Kernels", "SafeTensors"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "GPT"]),
        .testTarget(name: "ShallotCLITests", dependencies: ["GPT", "SafeTensors"]),
    ]
)
