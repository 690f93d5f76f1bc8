import Foundation
import Hummingbird
import HummingbirdTesting
import StylizeKit
import StylizeTestSupport
import XCTest
@testable import StylizeStudio

/// A studio over a fresh root folder, and requests to it through Hummingbird's router test
/// client (no socket).
struct StudioFixture {
    let root: URL
    let server: StudioServer

    /// The repository's sample clip (720p with audio).
    static let sampleClip = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("SampleClips/bigbuckbunny.mp4")

    init(_ test: XCTestCase, maxUploadBytes: Int = 512 << 20, root existing: URL? = nil) throws {
        if let existing {
            root = existing
        } else {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("stylize-studio-tests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let made = root
            test.addTeardownBlock { try? FileManager.default.removeItem(at: made) }
        }
        var configuration = StudioConfiguration(root: root)
        configuration.maxUploadBytes = maxUploadBytes
        server = try StudioServer(configuration)
    }

    /// A clip cut from the sample: `seconds` long, `width` x `width * 9 / 16`, with its audio.
    func makeClip(_ name: String, seconds: Double = 1, width: Int = 160) throws -> URL {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try tool("ffmpeg", ["-v", "error", "-i", Self.sampleClip.path, "-t", String(seconds), "-vf", "scale=\(width):-2",
                            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", url.path])
        return url
    }

    /// A picture cut from the sample's first frame.
    func makePicture(_ name: String, width: Int = 160) throws -> URL {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try tool("ffmpeg", ["-v", "error", "-i", Self.sampleClip.path, "-frames:v", "1", "-vf", "scale=\(width):-2", url.path])
        return url
    }

    /// Runs `test` against the studio's routes.
    func requests<Value: Sendable>(_ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await Application(router: server.router()).test(.router, test)
    }
}

@discardableResult
func tool(_ name: String, _ arguments: [String]) throws -> String { try Processes.tool(name, arguments) }

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    var data: Data { Data(body.readableBytesView) }

    /// The one-line error of a refusal.
    var error: String { json["error"] as? String ?? "" }
}

/// A JSON body.
func body(_ object: Any) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
}

/// The size of a JPEG or PNG the server sent.
func pictureSize(_ data: Data) throws -> (width: Int, height: Int) {
    let picture = try decodedPicture(data)
    return (picture.width, picture.height)
}

/// A JPEG or PNG the server sent, decoded.
func decodedPicture(_ data: Data) throws -> Picture {
    let ext = data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "png" : "jpg"
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("studio-picture-\(UUID().uuidString).\(ext)")
    try data.write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try Picture(contentsOf: url)
}
