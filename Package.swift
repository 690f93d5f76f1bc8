// swift-tools-version:6.1
import PackageDescription

/// What the studio's targets need only with the Studio trait.
let studio = TargetDependencyCondition.when(traits: ["Studio"])

let package = Package(
    name: "stylize",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "StylizeKit", targets: ["StylizeKit"]),
        .executable(name: "stylize", targets: ["stylize"]),
    ],
    // The studio (`stylize studio`) and its server packages. On by default, so that this package
    // builds the whole tool; a package that only uses StylizeKit depends on this one with
    // `traits: []`, and none of the studio's packages is fetched.
    traits: [
        .trait(name: "Studio", description: "The studio's web server and render queue (Hummingbird, GRDB)."),
        .default(enabledTraits: ["Studio"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation --target StylizeKit` builds the DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The studio's web server, its WebSocket (the Live panel) and its job queue's database (the Studio trait).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
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
        // libavdevice (cameras, screens, lavfi and v4l2 outputs), libavformat, libavfilter, libavcodec, libswscale, libswresample and libavutil.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavdevice-dev", "libavformat-dev", "libavfilter-dev", "libavcodec-dev", "libswscale-dev", "libswresample-dev", "libavutil-dev"])]
        ),
        // The transformer's memory-bound kernels that oneDNN has no fused primitive for.
        // They run on oneDNN's GNU OpenMP thread team (libgomp, which Debian's libdnnl uses).
        .target(name: "StylizeKernels", linkerSettings: [.linkedLibrary("gomp", .when(platforms: [.linux]))]),
        // OpenCV's DIS optical flow for the temporal stabilizer, behind a C interface. Debian's
        // libopencv-video-dev ships no pkg-config file (only the whole libopencv-dev does), and
        // its headers are under /usr/include/opencv4: `opencv/opencv2` links there, so that the
        // include folder is a plain header search path (an unsafe -I flag would keep the package
        // from being a versioned dependency).
        .target(
            name: "StylizeFlow",
            dependencies: ["StylizeKernels"],
            exclude: ["opencv"],
            cxxSettings: [.headerSearchPath("opencv")],
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
                .product(name: "Hummingbird", package: "hummingbird", condition: studio),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket", condition: studio),
                .product(name: "GRDB", package: "GRDB.swift", condition: studio),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: studio),
                .product(name: "HTTPTypes", package: "swift-http-types", condition: studio),
                .product(name: "Logging", package: "swift-log", condition: studio),
            ],
            resources: [.embedInCode("Web/index.html"), .embedInCode("Web/studio.css")]
                + ["state", "helpers", "requests", "files", "input", "styles", "look", "preview", "keyframes", "uploads", "jobs", "live", "mask", "main"].map { .embedInCode("Web/\($0).js") }
        ),
        .executableTarget(
            name: "stylize",
            dependencies: [
                "StylizeKit",
                .target(name: "StylizeStudio", condition: studio),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer targets over the parsers (scripts/fuzz builds them with -sanitize=fuzzer);
        // a plain build replays inputs.
        .executableTarget(
            name: "stylize-fuzz",
            dependencies: ["StylizeKit"]
        ),
        // What both test suites share: running programs and throwaway folders.
        .target(
            name: "StylizeTestSupport",
            dependencies: ["StylizeKit"],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "StylizeKitTests",
            dependencies: ["StylizeKit", "stylize", "StylizeTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "StudioTests",
            dependencies: [
                .target(name: "StylizeStudio", condition: studio),
                "stylize",
                "StylizeTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird", condition: studio),
                .product(name: "HTTPTypes", package: "swift-http-types", condition: studio),
            ]
        ),
    ]
)
