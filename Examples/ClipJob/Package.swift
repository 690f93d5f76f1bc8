// swift-tools-version:6.1
import PackageDescription

// Programs that use StylizeKit as another package does: a cancellable async clip job with
// progress (ClipJob), and raw RGBA frames stylized in memory through a FrameSession (FrameJob). It depends on StylizeKit by URL and version, with the studio's trait off
// (`traits: []`), so that none of the studio's server packages is fetched.
// STYLIZE_PACKAGE_URL names the repository: `scripts/example` makes a tagged copy of this
// checkout and builds against it. Without it, this checkout by path (named, because a path
// dependency is otherwise known by its folder's name).
let stylize: Package.Dependency
if let url = Context.environment["STYLIZE_PACKAGE_URL"] {
    stylize = .package(url: url, from: "0.3.0", traits: [])
} else {
    stylize = .package(name: "stylize", path: "../..", traits: [])
}

let package = Package(
    name: "ClipJob",
    platforms: [.macOS(.v14)],
    dependencies: [stylize],
    targets: [
        .executableTarget(name: "ClipJob", dependencies: [.product(name: "StylizeKit", package: "stylize")]),
        .executableTarget(name: "FrameJob", dependencies: [.product(name: "StylizeKit", package: "stylize")]),
    ]
)
