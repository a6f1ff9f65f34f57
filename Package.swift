// swift-tools-version:6.0
import PackageDescription

// The kernels and the model are hot loops over raw buffers: they are compiled optimised without
// overflow checks in every configuration, so that `swift test` (a debug build) trains its tiny
// models in seconds rather than minutes. Bounds are checked where data enters (file parsers,
// token ids), not in the loops. No other target is -Ounchecked (docs/architecture.md).
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"]), .unsafeFlags(["-wmo"], .when(configuration: .release))]
// Everything that interprets bytes it did not write (file parsers and loaders, the tokenizer, the
// importers, the CLI that reads audit.json) keeps Swift's bounds and overflow checks: optimised
// in every configuration, but never -Ounchecked (docs/security.md).
let checked: [SwiftSetting] = [.unsafeFlags(["-O"]), .unsafeFlags(["-wmo"], .when(configuration: .release))]

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
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // The C BLAS header only. On Linux the library itself is opened at run time
        // (see Kernels/BLAS.swift) so that OpenBLAS's CPU kernel can be chosen first.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Kernels", dependencies: ["CKernels", "Support", .target(name: "CBLAS", condition: .when(platforms: [.linux]))],
                swiftSettings: fast,
                linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS])),
                                 .linkedLibrary("dl", .when(platforms: [.linux]))]),
        // What every layer shares and nothing else (grows with the refactor of issue #13).
        // (libdl: getxattr and fgetxattr are looked up at run time, AccessACL.swift)
        .target(name: "Support", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: checked,
                linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "SafeTensors", dependencies: ["Support"], swiftSettings: checked),
        // config.json and the checkpoint index: parsed and validated against limits in checked code.
        .target(name: "ModelFormat", swiftSettings: checked),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Tokenizer", dependencies: ["Support"], swiftSettings: checked),
        .target(name: "PII", swiftSettings: checked),
        .target(name: "Corpus", dependencies: ["PII", "Support", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: checked),
        .target(name: "Audit", dependencies: ["GPT", "Tokenizer", "PII", "Corpus", "CZlib", "Support"], swiftSettings: checked),
        .target(name: "Report", dependencies: ["Audit", "PII", "Study", "Support"]),
        // The attacks' `LanguageModel` over an OpenAI-compatible completions API (vLLM, llama.cpp, TGI).
        .target(name: "Endpoint", dependencies: ["Audit", "GPT", "Tokenizer", "Support",
                                                 .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .target(name: "Ledger", dependencies: ["Support", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Unlearning", dependencies: ["GPT", "Kernels", "Training", "Audit", "Corpus", "Ledger", "Support", "PII", "Tokenizer"], swiftSettings: checked),
        .target(name: "Study", dependencies: ["Audit", "Corpus", "Endpoint", "GPT", "Kernels", "PII", "SafeTensors", "Support", "Tokenizer", "Training", "Unlearning"], swiftSettings: checked),
        .target(name: "GPT", dependencies: ["Kernels", "ModelFormat", "SafeTensors", "Support"], swiftSettings: fast),
        .target(name: "Training", dependencies: ["GPT", "Kernels", "SafeTensors", "Support", "Tokenizer"],
                swiftSettings: checked),
        // `shallot serve`: the HTTP layer and the batching loop over the engine. Ordinary optimisation
        // (no -Ounchecked): it parses untrusted requests; the hot loops it calls are in GPT/Kernels.
        .target(name: "Serve", dependencies: ["GPT", "Kernels", "Support", "Tokenizer",
                                              .product(name: "Hummingbird", package: "hummingbird")]),
        .executableTarget(name: "shallot", dependencies: [
            "GPT", "Training", "Kernels", "Tokenizer", "PII", "Corpus", "Audit", "Report", "Unlearning", "Study", "Ledger", "Support", "Serve", "Endpoint",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: checked),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "Support"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"]),
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GPTTests", dependencies: ["GPT", "Kernels", "SafeTensors", "Training"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PIITests", dependencies: ["PII"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "Support", "Kernels", "GPT", "Corpus", "Training", "Tokenizer", "PII"]),
        .testTarget(name: "EndpointTests", dependencies: ["shallot", "Endpoint", "Serve", "Audit", "GPT", "Kernels", "Corpus", "Training", "Tokenizer", "PII",
                                                          .product(name: "Hummingbird", package: "hummingbird")]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Audit"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger"]),
        .testTarget(name: "StudyTests", dependencies: ["Study", "Report"]),
        .testTarget(name: "UnlearningTests", dependencies: ["Unlearning", "Support", "GPT", "Kernels", "Tokenizer", "Training", "Corpus", "Ledger", "PII"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "GPT", "Support", "Tokenizer"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "GPT", "Kernels", "Tokenizer", "Training",
                                                   .product(name: "Hummingbird", package: "hummingbird")]),
        .testTarget(name: "ShallotCLITests", dependencies: ["shallot", "GPT", "SafeTensors"]),
    ]
)
