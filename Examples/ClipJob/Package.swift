// swift-tools-version:6.0
import PackageDescription

// A program that uses StylizeKit by path: a cancellable async clip job with progress.
let package = Package(
    name: "ClipJob",
    platforms: [.macOS(.v13)],
    // Named, because a path dependency is otherwise known by its folder's name.
    dependencies: [.package(name: "stylize", path: "../..")],
    targets: [
        .executableTarget(name: "ClipJob", dependencies: [.product(name: "StylizeKit", package: "stylize")]),
    ]
)
