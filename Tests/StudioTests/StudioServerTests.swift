import Foundation
import Hummingbird
import HummingbirdTesting
import StylizeKit
import XCTest
@testable import StylizeStudio

/// Every endpoint of the studio, its refusals among them, through the router (no socket).
final class StudioServerTests: XCTestCase, @unchecked Sendable {
    func testPageAndScriptsAreServedFromTheBinary() async throws {
        let studio = try StudioFixture(self)
        try await studio.requests { client in
            try await client.execute(uri: "/", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "text/html; charset=utf-8")
                let page = String(decoding: response.data, as: UTF8.self)
                XCTAssertTrue(page.contains("/static/main.js") && page.contains("/static/studio.css"), page)
                XCTAssertFalse(page.contains("http://") || page.contains("https://"), "the page loads nothing from elsewhere")
            }
            // The page's modules, each one a main.js imports (directly or not), and the style sheet.
            let modules = PageRoutes.modules.keys.sorted().map { ("/static/\($0)", "text/javascript") }
            for (path, type) in modules + [("/static/studio.css", "text/css")] {
                try await client.execute(uri: path, method: .get) { response in
                    XCTAssertEqual(response.status, .ok, path)
                    XCTAssertTrue(response.headers[.contentType]?.hasPrefix(type) ?? false)
                    XCTAssertGreaterThan(response.body.readableBytes, 500, path)
                }
            }
            try await client.execute(uri: "/static/studio.js", method: .get) { XCTAssertEqual($0.status, .notFound) }
            try await client.execute(uri: "/static/../Package.swift", method: .get) { XCTAssertEqual($0.status, .notFound) }
        }
    }

    func testFilesAreListedAndNothingOutsideTheRootIsServed() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4")
        _ = try studio.makePicture("frames/0001.png")
        _ = try studio.makePicture("frames/0002.png")
        try Data("secret".utf8).write(to: studio.root.appendingPathComponent(".hidden.mp4"))
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("studio-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: outside) }
        _ = try studio.makeClip("../\(outside.lastPathComponent)/private.mp4")
        try FileManager.default.createSymbolicLink(at: studio.root.appendingPathComponent("link-out"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(at: studio.root.appendingPathComponent("clip-link.mp4"),
                                                   withDestinationURL: outside.appendingPathComponent("private.mp4"))

        try await studio.requests { client in
            try await client.execute(uri: "/api/files", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let entries = response.json["entries"] as? [[String: Any]] ?? []
                let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0["name"] as! String, $0) })
                XCTAssertEqual(byName["clip.mp4"]?["kind"] as? String, "clip")
                XCTAssertEqual(byName["frames"]?["kind"] as? String, "folder")
                XCTAssertEqual(byName["frames"]?["pictures"] as? Int, 2)
                XCTAssertNil(byName[".hidden.mp4"], "hidden files are not listed")
                XCTAssertNil(byName["link-out"], "links out of the root are not listed")
                XCTAssertNil(byName["clip-link.mp4"], "links out of the root are not listed")
            }
            try await client.execute(uri: "/api/files?dir=frames", method: .get) { response in
                XCTAssertEqual(response.json["parent"] as? String, "")
                XCTAssertEqual((response.json["entries"] as? [[String: Any]])?.compactMap { $0["path"] as? String }, ["frames/0001.png", "frames/0002.png"])
            }
            let refused = [
                "../\(outside.lastPathComponent)/private.mp4", "%2e%2e/\(outside.lastPathComponent)/private.mp4",
                "..%2F\(outside.lastPathComponent)%2Fprivate.mp4", outside.appendingPathComponent("private.mp4").path,
                "link-out/private.mp4", "clip-link.mp4", "frames/../../etc/passwd", "./clip.mp4",
            ]
            for path in refused {
                for endpoint in ["/api/media?path=", "/api/frame?time=0&path=", "/api/files?dir="] {
                    try await client.execute(uri: endpoint + path, method: .get) { response in
                        XCTAssertEqual(response.status, .forbidden, "\(endpoint)\(path): \(response.error)")
                        XCTAssertFalse(response.error.isEmpty)
                    }
                }
            }
            try await client.execute(uri: "/api/media?path=missing.mp4", method: .get) { XCTAssertEqual($0.status, .notFound) }
            // A double-encoded `..` is a literal name, and no such file exists.
            try await client.execute(uri: "/api/media?path=%252e%252e/x.mp4", method: .get) { XCTAssertEqual($0.status, .notFound) }
        }
    }

    func testMediaDescribesClipsPicturesAndFrameFolders() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4", seconds: 1, width: 160)
        _ = try studio.makePicture("still.png", width: 200)
        for n in 1...3 { _ = try studio.makePicture("frames/\(n).png", width: 96) }
        try await studio.requests { client in
            try await client.execute(uri: "/api/media?path=clip.mp4", method: .get) { response in
                let info = response.json
                XCTAssertEqual(info["kind"] as? String, "clip")
                XCTAssertEqual(info["width"] as? Int, 160)
                XCTAssertEqual(info["height"] as? Int, 90)
                XCTAssertEqual(info["frames"] as? Int, 25, "the sample runs at 25 fps")
                XCTAssertEqual(info["hasAudio"] as? Bool, true)
                XCTAssertEqual(info["duration"] as? Double ?? 0, 1, accuracy: 0.05)
            }
            try await client.execute(uri: "/api/media?path=still.png", method: .get) { response in
                XCTAssertEqual(response.json["kind"] as? String, "picture")
                XCTAssertEqual(response.json["frames"] as? Int, 1)
            }
            try await client.execute(uri: "/api/media?path=frames", method: .get) { response in
                XCTAssertEqual(response.json["kind"] as? String, "frames")
                XCTAssertEqual(response.json["frames"] as? Int, 3)
                XCTAssertEqual(response.json["width"] as? Int, 96)
            }
        }
    }

    func testFramesComeAtTheAskedTimeAndWidth() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4", seconds: 1, width: 320)
        try await studio.requests { client in
            var pictures: [Data] = []
            for time in ["0", "0.5", "1"] {
                try await client.execute(uri: "/api/frame?path=clip.mp4&width=160&time=\(time)", method: .get) { response in
                    XCTAssertEqual(response.status, .ok, response.error)
                    XCTAssertEqual(response.headers[.contentType], "image/jpeg")
                    let size = try pictureSize(response.data)
                    XCTAssertEqual(size.width, 160)
                    XCTAssertEqual(size.height, 90)
                    pictures.append(response.data)
                }
            }
            XCTAssertEqual(Set(pictures).count, 3, "three times give three pictures")
            for bad in ["time=1.5", "time=-1", "time=abc", "time=0&width=5"] {
                try await client.execute(uri: "/api/frame?path=clip.mp4&\(bad)", method: .get) { response in
                    XCTAssertEqual(response.status, .badRequest, bad)
                    XCTAssertFalse(response.error.isEmpty)
                }
            }
        }
    }

    func testStylesListTheGalleryWithThumbnailsAndUploadedPictures() async throws {
        let studio = try StudioFixture(self)
        let picture = try Data(contentsOf: studio.makePicture("for-upload.jpg", width: 300))
        try await studio.requests { client in
            try await client.execute(uri: "/api/styles", method: .get) { response in
                let styles = response.json["styles"] as? [[String: Any]] ?? []
                XCTAssertEqual(styles.filter { $0["kind"] as? String == "gallery" }.compactMap { $0["id"] as? String }, StyleGallery.builtIn.names)
            }
            for name in StyleGallery.builtIn.names {
                try await client.execute(uri: StudioLibrary.thumbnailURL(name), method: .get) { response in
                    XCTAssertEqual(response.status, .ok, name)
                    let size = try pictureSize(response.data)
                    XCTAssertEqual([size.width, size.height], [128, 128], name)
                }
            }
            let path = try await client.execute(uri: "/api/upload?purpose=style&name=my%20style.jpg", method: .post, body: ByteBuffer(bytes: picture)) { response in
                XCTAssertEqual(response.status, .created, response.error)
                return response.json["path"] as? String ?? ""
            }
            XCTAssertEqual(path, "stylize-studio/uploads/styles/my_style.jpg")
            try await client.execute(uri: "/api/styles", method: .get) { response in
                let styles = response.json["styles"] as? [[String: Any]] ?? []
                XCTAssertTrue(styles.contains { $0["id"] as? String == path && $0["kind"] as? String == "upload" })
            }
            try await client.execute(uri: StudioLibrary.thumbnailURL(path), method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(try pictureSize(response.data).width, 128)
            }
            try await client.execute(uri: "/api/styles/thumbnail?id=../x.jpg", method: .get) { XCTAssertEqual($0.status, .forbidden) }
        }
    }

    func testUploadsAreCheckedAndRefusedUploadsLeaveNothing() async throws {
        let studio = try StudioFixture(self, maxUploadBytes: 200_000)
        let clip = try Data(contentsOf: studio.makeClip("source.mp4", seconds: 0.5, width: 96))
        let uploads = studio.root.appendingPathComponent("stylize-studio/uploads")
        let stored: @Sendable () -> [String] = { ((try? FileManager.default.subpathsOfDirectory(atPath: uploads.path)) ?? []).sorted() }
        try await studio.requests { client in
            try await client.execute(uri: "/api/upload?purpose=input&name=notes.mp4", method: .post, body: ByteBuffer(string: "this is not a clip")) { response in
                XCTAssertEqual(response.status, .unsupportedMediaType)
                XCTAssertTrue(response.error.contains("notes.mp4"), response.error)
            }
            try await client.execute(uri: "/api/upload?purpose=input&name=notes.txt", method: .post, body: ByteBuffer(string: "text")) { response in
                XCTAssertEqual(response.status, .unsupportedMediaType)
            }
            try await client.execute(uri: "/api/upload?purpose=style&name=clip.mp4", method: .post, body: ByteBuffer(bytes: clip)) { response in
                XCTAssertEqual(response.status, .unsupportedMediaType, "a style must be a picture")
            }
            try await client.execute(uri: "/api/upload?purpose=input&name=big.mp4", method: .post, body: ByteBuffer(repeating: 0, count: 300_000)) { response in
                XCTAssertEqual(response.status, .contentTooLarge)
                XCTAssertTrue(response.error.contains("upload limit"), response.error)
            }
            XCTAssertEqual(stored(), [], "refused uploads leave nothing behind")
            for expected in ["stylize-studio/uploads/clip.mp4", "stylize-studio/uploads/clip-2.mp4"] {
                try await client.execute(uri: "/api/upload?purpose=input&name=clip.mp4", method: .post, body: ByteBuffer(bytes: clip)) { response in
                    XCTAssertEqual(response.status, .created, response.error)
                    XCTAssertEqual(response.json["path"] as? String, expected)
                    XCTAssertEqual(response.json["kind"] as? String, "clip")
                }
            }
            XCTAssertEqual(stored(), ["clip-2.mp4", "clip.mp4"])
            try await client.execute(uri: "/api/upload?purpose=input&name=..%2F..%2Fescape.mp4", method: .post, body: ByteBuffer(bytes: clip)) { response in
                XCTAssertEqual(response.status, .created, response.error)
                XCTAssertEqual(response.json["path"] as? String, "stylize-studio/uploads/_.._escape.mp4", "a name is a name, never a path")
            }
        }
    }
}
