// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stylize",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "StylizeKit", targets: ["StylizeKit"]),
        .executable(name: "stylize", targets: ["stylize"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation --target StylizeKit` builds the DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])],
            linkerSettings: [.linkedLibrary("opencv_video"), .linkedLibrary("opencv_core")]
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
        .executableTarget(
            name: "stylize",
            dependencies: [
                "StylizeKit",
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
    ]
)
