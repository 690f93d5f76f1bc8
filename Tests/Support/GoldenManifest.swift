import Foundation
import XCTest

/// The golden outputs (`Tests/StylizeKitTests/Fixtures/golden.json`): for each case, a digest of
/// what it wrote that must not change when the code is reorganised. The command-line cases are
/// `GoldenOutputTests`'; the studio's render is `StudioCommandTests`'. Both suites compare with,
/// and record into, this one file.
///
/// Cases run with oneDNN and StylizeKit's kernels limited to AVX2 (`environment`), the one
/// configuration every x86-64 CPU this runs on shares, so the digests do not depend on which of
/// them records or checks. A change meant to alter outputs records anew with
/// `STYLIZE_GOLDEN_RECORD=1 swift test --filter "GoldenOutputTests|StudioCommandTests"`, and the
/// manifest's diff shows which cases moved.
public enum GoldenManifest {
    /// The manifest in the source tree.
    public static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("StylizeKitTests/Fixtures/golden.json")
    /// What a golden case's process runs with.
    public static let environment = ["ONEDNN_MAX_CPU_ISA": "AVX2"]

    /// Compares `digests` with the manifest, or records them into it when STYLIZE_GOLDEN_RECORD
    /// is set (other cases are kept as they are).
    public static func compare(_ digests: [String: String], file: StaticString = #filePath, line: UInt = #line) throws {
        var known = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: source))
        if ProcessInfo.processInfo.environment["STYLIZE_GOLDEN_RECORD"] != nil {
            known.merge(digests) { $1 }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(known).write(to: source)
            return
        }
        let changed = digests.keys.sorted().filter { known[$0] != digests[$0] }
        XCTAssertEqual(changed, [], "outputs that differ from Fixtures/golden.json", file: file, line: line)
    }

    /// SHA-256 of FFmpeg's framemd5 of every stream (a folder: of each file, by name), which
    /// covers every decoded picture and sample with its timestamp, and not the container's bytes.
    public static func digest(of output: URL) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: output.path, isDirectory: &isFolder) else { return "no output" }
        let files = isFolder.boolValue
            ? try FileManager.default.contentsOfDirectory(atPath: output.path).sorted().map { output.appendingPathComponent($0) }
            : [output]
        var text = ""
        for file in files {
            text += "\(file.lastPathComponent)\n"
            text += try Processes.tool("ffmpeg", ["-v", "error", "-i", file.path, "-map", "0", "-f", "framemd5", "-"])
        }
        let listing = output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).framemd5")
        try Data(text.utf8).write(to: listing)
        return String(try Processes.tool("sha256sum", [listing.path]).prefix(64))
    }
}
