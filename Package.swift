// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stylize",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "StylizeKit", targets: ["StylizeKit"]),
        .executable(name: "stylize", targets: ["stylize"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation --target StylizeKit` builds the DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The studio's web server and its job queue's database.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // oneDNN's C API; Debian's libdnnl-dev ships no pkg-config file.
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        // libavformat, libavfilter, libavcodec, libswscale, libswresample and libavutil.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavfilter-dev", "libavcodec-dev", "libswscale-dev", "libswresample-dev", "libavutil-dev"])]
        ),
        // The transformer's memory-bound kernels that oneDNN has no fused primitive for.
        // They run on oneDNN's GNU OpenMP thread team (libgomp, which Debian's libdnnl uses).
        .target(name: "StylizeKernels", linkerSettings: [.linkedLibrary("gomp", .when(platforms: [.linux]))]),
        // OpenCV's DIS optical flow for the temporal stabilizer, behind a C interface. Debian's
        // libopencv-video-dev ships no pkg-config file (only the whole libopencv-dev does), so the
        // include folder is named here.
        .target(
            name: "StylizeFlow",
            dependencies: ["StylizeKernels"],
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])],
            linkerSettings: [.linkedLibrary("opencv_video"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_core")]
        ),
        .target(
            name: "StylizeKit",
            dependencies: [
                "CDNNL",
                "StylizeKernels",
                "StylizeFlow",
                "CFFmpeg",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // `stylize studio`: a local web page over StylizeKit (the page is in Web/, served from the
        // bundle), with its render queue in SQLite.
        .target(
            name: "StylizeStudio",
            dependencies: [
                "StylizeKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Web/index.html"), .embedInCode("Web/studio.js"), .embedInCode("Web/studio.css")]
        ),
        .executableTarget(
            name: "stylize",
            dependencies: [
                "StylizeKit",
                "StylizeStudio",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer targets over the parsers (scripts/fuzz builds them with -sanitize=fuzzer);
        // a plain build replays inputs.
        .executableTarget(
            name: "stylize-fuzz",
            dependencies: ["StylizeKit"]
        ),
        .testTarget(
            name: "StylizeKitTests",
            dependencies: ["StylizeKit", "stylize"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "StudioTests",
            dependencies: [
                "StylizeStudio",
                "stylize",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ]
)
