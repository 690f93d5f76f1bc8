import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StylizeKit
import StylizeTestSupport
import XCTest
@testable import StylizeStudio

/// Previews and renders: what they paint, the command line behind a render, cancelling, the
/// queue across a restart, and bad requests.
final class StudioRenderTests: XCTestCase, @unchecked Sendable {
    func preview(_ client: any TestClientProtocol, _ settings: [String: Any]) async throws -> Data {
        try await client.execute(uri: "/api/preview", method: .post, body: body(settings)) { response in
            XCTAssertEqual(response.status, .ok, response.error)
            XCTAssertNotNil(response.headers[HTTPField.Name("X-Preview-Milliseconds")!])
            return response.data
        }
    }

    func testPreviewsFollowTheSettingsAndTheKeyframes() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4", seconds: 1, width: 320)
        _ = try studio.makePicture("style.jpg", width: 400)
        try await studio.requests { client in
            let base: [String: Any] = ["path": "clip.mp4", "time": 0.5, "style": "starry-night", "width": 320]
            let full = try await preview(client, base)
            XCTAssertEqual(try pictureSize(full).width, 320)
            XCTAssertEqual(try pictureSize(full).height, 180)
            let again = try await preview(client, base)
            XCTAssertEqual(again, full, "the same settings paint the same picture")
            var changed: [Data] = []
            // Another precision where this CPU runs one (int8 needs VNNI); where it does not, the
            // preview says so.
            var changes: [[String: Any]] = [["strength": 0.3], ["style": "great-wave"], ["style": "starry-night:0.5,great-wave:0.5"],
                                            ["size": 96], ["preserveColors": true], ["time": 0.9]]
            if Precision.cpuHasVNNI {
                changes.append(["precision": "int8"])
            } else {
                try await client.execute(uri: "/api/preview", method: .post, body: body(base.merging(["precision": "int8"]) { $1 })) { response in
                    XCTAssertNotEqual(response.status, .ok)
                    XCTAssertTrue(response.error.contains("int8 needs VNNI"), response.error)
                }
            }
            for change in changes {
                let picture = try await preview(client, base.merging(change) { $1 })
                XCTAssertNotEqual(picture, full, "\(change) changes the preview")
                changed.append(picture)
            }
            XCTAssertEqual(Set(changed).count, changed.count, "each setting paints its own picture")
            // The style size changes what a style picture gives (gallery vectors are fixed).
            let picture = try await preview(client, base.merging(["style": "style.jpg"]) { $1 })
            let smaller = try await preview(client, base.merging(["style": "style.jpg", "styleSize": 128]) { $1 })
            XCTAssertNotEqual(picture, smaller)
            // Keyframes decide the style at the preview's time: at each key, that key's style.
            let keyframes: [String: Any] = ["ease": "smooth", "keyframes": [
                ["time": 0.2, "style": "starry-night", "strength": 1], ["time": 0.8, "style": "great-wave", "strength": 0.6]]]
            let atFirst = try await preview(client, base.merging(["keyframes": keyframes, "time": 0.2, "style": "the-scream"]) { $1 })
            let firstStyle = try await preview(client, base.merging(["time": 0.2]) { $1 })
            XCTAssertEqual(atFirst, firstStyle)
            let atSecond = try await preview(client, base.merging(["keyframes": keyframes, "time": 0.8]) { $1 })
            let secondStyle = try await preview(client, base.merging(["time": 0.8, "style": "great-wave", "strength": 0.6]) { $1 })
            XCTAssertEqual(atSecond, secondStyle)
            let between = try await preview(client, base.merging(["keyframes": keyframes, "time": 0.5]) { $1 })
            let secondAtHalf = try await preview(client, base.merging(["time": 0.5, "style": "great-wave", "strength": 0.6]) { $1 })
            XCTAssertNotEqual(between, secondAtHalf)
            XCTAssertNotEqual(between, full)
        }
    }

    func testRotatedClipsAreShownUpright() async throws {
        let studio = try StudioFixture(self)
        let flat = try studio.makeClip("flat.mp4", seconds: 1, width: 160)
        // The same frames, stored as they are, with a display matrix that turns them a quarter
        // counter-clockwise (ffmpeg's rotate=90 tag): a phone's portrait clip.
        let turnedClip = studio.root.appendingPathComponent("turned.mp4")
        try tool("ffmpeg", ["-v", "error", "-i", flat.path, "-c", "copy", "-metadata:s:v:0", "rotate=90", turnedClip.path])
        // The frame at 0.5 s (frame 12 at 25 fps) as ffmpeg shows the clip, upright.
        let upright = studio.root.appendingPathComponent("upright.png")
        try tool("ffmpeg", ["-v", "error", "-i", turnedClip.path, "-vf", "select=eq(n\\,12)", "-frames:v", "1", upright.path])
        try await studio.requests { client in
            try await client.execute(uri: "/api/media?path=turned.mp4", method: .get) { response in
                XCTAssertEqual(response.json["width"] as? Int, 90)
                XCTAssertEqual(response.json["height"] as? Int, 160)
            }
            // The source frame as the filmstrip and the preview's "before" show it.
            let frame = { (path: String, width: Int) in
                try await client.execute(uri: "/api/frame?path=\(path)&width=\(width)&time=0.5", method: .get) { try decodedPicture($0.data) }
            }
            let turned = try await frame("turned.mp4", 90)
            XCTAssertEqual([turned.width, turned.height], [90, 160])
            // 27 dB here (a JPEG against a PNG, each scaled its own way); turned the wrong way, 9.
            XCTAssertGreaterThan(psnr(turned, try Picture(contentsOf: upright)), 20)
            // The stylized frame: painted on the stored frame as a render paints it, then turned.
            let settings: [String: Any] = ["time": 0.5, "style": "starry-night"]
            let painted = try decodedPicture(try await preview(client, settings.merging(["path": "turned.mp4", "width": 90]) { $1 }))
            XCTAssertEqual([painted.width, painted.height], [90, 160])
            let flatPainted = try decodedPicture(try await preview(client, settings.merging(["path": "flat.mp4", "width": 160]) { $1 }))
            XCTAssertGreaterThan(psnr(painted, flatPainted.rotated(clockwise: 270)), 30)
        }
    }

    func testRendersTakeATrimStabilizationQualityAndAFolderRateAndFinishedOnesClear() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4", seconds: 3, width: 160)
        for n in 1...6 { _ = try studio.makePicture("frames/\(n).png", width: 96) }
        try await studio.requests { client in
            await studio.server.queue.start()
            let trimmed = try await client.execute(uri: "/api/jobs", method: .post, body: body(
                ["path": "clip.mp4", "style": "great-wave", "start": 1, "duration": 1, "stabilize": 0, "crf": 30])) { $0.json }
            let command = trimmed["command"] as? String ?? ""
            XCTAssertTrue(command.hasSuffix("-s great-wave --start 1 --duration 1 --no-stabilize --crf 30"), command)
            let folder = try await client.execute(uri: "/api/jobs", method: .post, body: body(
                ["path": "frames", "style": "great-wave", "fps": 12, "output": "frames.mkv"])) { $0.json }
            XCTAssertTrue((folder["command"] as? String ?? "").hasSuffix("-s great-wave --fps 12"), "\(folder)")
            for job in [trimmed, folder] {
                let done = try await self.waitForJob(client, job["id"] as! Int, until: ["done", "failed"])
                XCTAssertEqual(done["state"] as? String, "done", "\(done)")
            }
            let clip = studio.root.appendingPathComponent(trimmed["output"] as! String)
            let frames = try tool("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
                                              "stream=nb_read_frames", "-of", "csv=p=0", clip.path])
            XCTAssertEqual(frames.trimmingCharacters(in: .whitespacesAndNewlines), "25", "1 s of a 25 fps clip")
            let rate = try tool("ffprobe", ["-v", "error", "-select_streams", "v", "-show_entries", "stream=r_frame_rate", "-of", "csv=p=0",
                                            studio.root.appendingPathComponent(folder["output"] as! String).path])
            XCTAssertEqual(rate.trimmingCharacters(in: .whitespacesAndNewlines), "12/1")
            for bad: [String: Any] in [["start": 5], ["duration": 0], ["stabilize": 2], ["crf": 99], ["fps": 12]] {
                try await client.execute(uri: "/api/jobs", method: .post, body: body(["path": "clip.mp4", "style": "great-wave"].merging(bad) { $1 })) {
                    XCTAssertEqual($0.status, .badRequest, "\(bad)")
                }
            }
            // Finished renders leave the list; their files stay.
            let cleared = try await client.execute(uri: "/api/jobs/clear", method: .post) { $0.json["cleared"] as? [Int] ?? [] }
            XCTAssertEqual(Set(cleared), Set([trimmed["id"] as! Int, folder["id"] as! Int]))
            let left = try await client.execute(uri: "/api/jobs", method: .get) { $0.json["jobs"] as? [[String: Any]] ?? [] }
            XCTAssertTrue(left.isEmpty, "\(left)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: clip.path))
            await studio.server.queue.stop()
        }
    }

    /// The command line shows numbers as the render uses them, to the last digit.
    func testCommandLineNumbersAreExact() {
        XCTAssertEqual(StylizeJob.number(1), "1")
        XCTAssertEqual(StylizeJob.number(0.7), "0.7")
        XCTAssertEqual(StylizeJob.number(1234.5), "1234.5")
        XCTAssertEqual(StylizeJob.number(23.976), "23.976")
        XCTAssertEqual(StylizeJob.number(12345), "12345")
    }

    func testBadPreviewRequestsGetOneLine() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4", seconds: 1, width: 160)
        try await studio.requests { client in
            let cases: [(String, String)] = [
                ("{not json", "JSON"),
                (#"{"path": "clip.mp4", "time": 0.5, "style": "no-such-style"}"#, "unknown style"),
                (#"{"path": "clip.mp4", "time": 0.5, "style": "starry-night", "strength": -0.5}"#, "strength"),
                (#"{"path": "clip.mp4", "time": 7, "style": "starry-night"}"#, "outside"),
                (#"{"path": "clip.mp4", "time": 0.5}"#, "style"),
                (#"{"path": "clip.mp4", "time": 0.5, "style": "starry-night", "styleSize": 5000}"#, "style size"),
                (#"{"path": "clip.mp4", "time": 0.5, "style": "../outside.jpg"}"#, "root"),
                (#"{"path": "clip.mp4", "time": 0.5, "keyframes": {"keyframes": [{"time": -1, "style": "starry-night"}]}}"#, "negative"),
                (#"{"path": "clip.mp4", "time": "soon", "style": "starry-night"}"#, "time"),
            ]
            for (text, words) in cases {
                try await client.execute(uri: "/api/preview", method: .post, body: ByteBuffer(string: text)) { response in
                    XCTAssertTrue([.badRequest, .forbidden].contains(response.status), "\(text): \(response.status)")
                    XCTAssertTrue(response.error.contains(words), "\(text): \(response.error)")
                    XCTAssertFalse(response.error.contains("\n"))
                }
            }
            try await client.execute(uri: "/api/preview", method: .post, body: ByteBuffer(string: #"{"path": "missing.mp4", "style": "starry-night"}"#)) {
                XCTAssertEqual($0.status, .notFound)
            }
        }
    }

    /// While a slider moves, only the latest preview is painted: calls that waited behind a
    /// running one and were overtaken give nil.
    func testStalePreviewsAreDroppedNotQueued() async throws {
        let gate = LatestOnly()
        let started = Locked(false)
        async let first = gate.run { () -> Int in
            started.withLock { $0 = true }
            try await Task.sleep(nanoseconds: 300_000_000)
            return 1
        }
        while !started.withLock({ $0 }) { try await Task.sleep(nanoseconds: 1_000_000) }
        async let second = gate.run { 2 }
        try await Task.sleep(nanoseconds: 50_000_000)
        async let third = gate.run { 3 }
        let results = try await [first, second, third]
        XCTAssertEqual(results, [1, nil, 3])
    }

    func waitForJob(_ client: any TestClientProtocol, _ id: Int, until states: Set<String>, seconds: Double = 240) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let job = try await client.execute(uri: "/api/jobs", method: .get) { response in
                (response.json["jobs"] as? [[String: Any]] ?? []).first { $0["id"] as? Int == id } ?? [:]
            }
            if states.contains(job["state"] as? String ?? "") { return job }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTFail("render \(id) did not reach \(states) in \(seconds) s")
        return [:]
    }

    func testRenderWritesTheClipAndItsCommandLineDoesTheSame() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("clip.mp4", seconds: 1, width: 160)
        let request = try body(["path": "clip.mp4", "size": 64, "keyframes": ["ease": "in-out", "keyframes": [
            ["time": 0, "style": "starry-night"], ["time": "#20", "style": "great-wave:0.5,the-scream:0.5", "strength": 0.7]]]])
        try await studio.requests { client in
            let job = try await client.execute(uri: "/api/jobs", method: .post, body: request) { response in
                XCTAssertEqual(response.status, .created, response.error)
                return response.json
            }
            let output = "stylize-studio/renders/clip-transition.mp4"
            XCTAssertEqual(job["output"] as? String, output)
            XCTAssertEqual(job["command"] as? String,
                           "stylize video clip.mp4 -o \(output) --keyframes stylize-studio/renders/clip-transition.keyframes.json --size 64")
            let done = try await waitForJob(client, job["id"] as! Int, until: ["done", "failed", "cancelled"])
            XCTAssertEqual(done["state"] as? String, "done", "\(done)")
            XCTAssertEqual(done["framesDone"] as? Int, 25)
            XCTAssertEqual(done["framesTotal"] as? Int, 25)
            let written = try MediaInfo(of: studio.root.appendingPathComponent(output))
            XCTAssertEqual([written.frames, written.width, written.height], [25, 160, 90])
            XCTAssertTrue(written.hasAudio)
            try await client.execute(uri: "/api/jobs/\(job["id"]!)/output?download=1", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "video/mp4")
                XCTAssertEqual(response.headers[.contentDisposition], "attachment; filename=\"clip-transition.mp4\"")
                XCTAssertEqual(response.data, try Data(contentsOf: studio.root.appendingPathComponent(output)))
            }
            // A video element seeking asks for parts.
            let file = try Data(contentsOf: studio.root.appendingPathComponent(output))
            for (range, part) in [("bytes=0-99", file.prefix(100)), ("bytes=100-", file.dropFirst(100)), ("bytes=-10", file.suffix(10))] {
                try await client.execute(uri: "/api/jobs/\(job["id"]!)/output", method: .get, headers: [.range: range]) { response in
                    XCTAssertEqual(response.status, .partialContent, range)
                    XCTAssertEqual(response.data, Data(part), range)
                    XCTAssertEqual(response.headers[.contentRange]?.hasSuffix("/\(file.count)"), true, range)
                }
            }
            try await client.execute(uri: "/api/jobs/\(job["id"]!)/output", method: .get, headers: [.range: "bytes=\(file.count)-"]) { response in
                XCTAssertEqual(response.status, .rangeNotSatisfiable)
            }
            // The command, run from the root, reads the same keyframes and writes the same frames.
            let binary = Processes.stylize
            var words = (job["command"] as! String).split(separator: " ").map(String.init).dropFirst()
            words[words.firstIndex(of: "-o")! + 1] = "again.mp4"
            let process = Process()
            process.executableURL = binary
            process.arguments = Array(words) + ["--quiet"]
            process.currentDirectoryURL = studio.root
            try process.run()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            let again = try MediaInfo(of: studio.root.appendingPathComponent("again.mp4"))
            XCTAssertEqual(again.frames, 25)
            let ours = try Picture(clip: studio.root.appendingPathComponent(output), at: 0.6)
            let theirs = try Picture(clip: studio.root.appendingPathComponent("again.mp4"), at: 0.6)
            XCTAssertGreaterThan(psnr(ours, theirs), 30, "the command paints what the studio painted")
        }
    }

    func testPictureRenderAndRefusedRenders() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makePicture("still.jpg", width: 200)
        _ = try studio.makeClip("clip.mp4", seconds: 0.3, width: 96)
        try await studio.requests { client in
            // int8 where this CPU runs it (it needs VNNI).
            let precision = Precision.cpuHasVNNI ? "int8" : "f32"
            let job = try await client.execute(uri: "/api/jobs", method: .post, body: body(["path": "still.jpg", "style": "great-wave", "strength": 0.8, "preserveColors": true,
                                                                                                  "precision": precision])) { response in
                XCTAssertEqual(response.status, .created, response.error)
                return response.json
            }
            XCTAssertEqual(job["command"] as? String,
                           "stylize image still.jpg -o stylize-studio/renders/still-great-wave.png -s great-wave --strength 0.8 --preserve-colors --precision \(precision)")
            let done = try await waitForJob(client, job["id"] as! Int, until: ["done", "failed"])
            XCTAssertEqual(done["state"] as? String, "done", "\(done)")
            try await client.execute(uri: "/api/jobs/\(job["id"]!)/output", method: .get) { response in
                XCTAssertEqual(response.headers[.contentType], "image/png")
                XCTAssertEqual(try pictureSize(response.data).width, 200)
            }
            let refusals: [([String: Any], HTTPResponse.Status, String)] = [
                (["path": "still.jpg", "keyframes": ["keyframes": [["time": 0, "style": "great-wave"]]]], .badRequest, "keyframes need a clip"),
                (["path": "clip.mp4", "style": "great-wave", "output": "../x.mp4"], .badRequest, "file name"),
                (["path": "clip.mp4", "style": "great-wave", "output": "x.txt"], .badRequest, ".mp4"),
                (["path": "clip.mp4", "style": "great-wave", "output": "still-great-wave.png"], .badRequest, ".mp4"),
                (["path": "clip.mp4", "style": "nope"], .badRequest, "unknown style"),
                (["path": "../clip.mp4", "style": "great-wave"], .forbidden, "root"),
            ]
            for (settings, status, words) in refusals {
                try await client.execute(uri: "/api/jobs", method: .post, body: body(settings)) { response in
                    XCTAssertEqual(response.status, status, "\(settings): \(response.error)")
                    XCTAssertTrue(response.error.contains(words), "\(settings): \(response.error)")
                }
            }
            try await client.execute(uri: "/api/jobs/999/cancel", method: .post) { XCTAssertEqual($0.status, .notFound) }
            try await client.execute(uri: "/api/jobs/abc/output", method: .get) { XCTAssertEqual($0.status, .badRequest) }
            try await client.execute(uri: "/api/jobs/\(job["id"]!)/cancel", method: .post) { XCTAssertEqual($0.status, .conflict, "a finished render") }
        }
    }

    func testCancelledRenderLeavesNoOutput() async throws {
        let studio = try StudioFixture(self)
        _ = try studio.makeClip("long.mp4", seconds: 5, width: 480)
        try await studio.requests { client in
            let job = try await client.execute(uri: "/api/jobs", method: .post, body: body(["path": "long.mp4", "style": "starry-night"])) { $0.json }
            let id = job["id"] as! Int
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                let state = try await client.execute(uri: "/api/jobs", method: .get) { response in
                    (response.json["jobs"] as? [[String: Any]] ?? []).first { $0["id"] as? Int == id } ?? [:]
                }
                if state["state"] as? String == "running", (state["framesDone"] as? Int ?? 0) >= 3 { break }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            try await client.execute(uri: "/api/jobs/\(id)/cancel", method: .post) { XCTAssertEqual($0.status, .ok) }
            let ended = try await waitForJob(client, id, until: ["cancelled", "done", "failed"])
            XCTAssertEqual(ended["state"] as? String, "cancelled")
            let renders = try FileManager.default.contentsOfDirectory(atPath: studio.root.appendingPathComponent("stylize-studio/renders").path)
            XCTAssertEqual(renders, [], "no output and no temporary file")
            try await client.execute(uri: "/api/jobs/\(id)/output", method: .get) { XCTAssertEqual($0.status, .notFound) }
        }
    }

    func testQueueAndFinishedRendersSurviveARestart() async throws {
        let first = try StudioFixture(self)
        _ = try first.makeClip("a.mp4", seconds: 4, width: 320)
        _ = try first.makeClip("b.mp4", seconds: 0.3, width: 96)
        let ids = try await first.requests { client in
            let a = try await client.execute(uri: "/api/jobs", method: .post, body: body(["path": "a.mp4", "style": "starry-night"])) { $0.json["id"] as! Int }
            let b = try await client.execute(uri: "/api/jobs", method: .post, body: body(["path": "b.mp4", "style": "great-wave"])) { $0.json["id"] as! Int }
            _ = try await self.waitForJob(client, a, until: ["running"])
            return (a, b)
        }
        // The server stops in the middle of the first render.
        await first.server.queue.stop()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: first.root.appendingPathComponent("stylize-studio/renders").path), [])

        let second = try StudioFixture(self, root: first.root)
        try await second.requests { client in
            let jobs = try await client.execute(uri: "/api/jobs", method: .get) { $0.json["jobs"] as? [[String: Any]] ?? [] }
            XCTAssertEqual(jobs.compactMap { $0["id"] as? Int }, [ids.1, ids.0], "newest first")
            XCTAssertEqual(jobs.compactMap { $0["state"] as? String }, ["queued", "queued"])
            await second.server.queue.start()
            for id in [ids.0, ids.1] {
                let job = try await waitForJob(client, id, until: ["done", "failed"])
                XCTAssertEqual(job["state"] as? String, "done", "\(job)")
            }
        }
        let third = try StudioFixture(self, root: first.root)
        try await third.requests { client in
            let jobs = try await client.execute(uri: "/api/jobs", method: .get) { $0.json["jobs"] as? [[String: Any]] ?? [] }
            XCTAssertEqual(jobs.compactMap { $0["state"] as? String }, ["done", "done"])
            try await client.execute(uri: "/api/jobs/\(ids.1)/output", method: .get) { XCTAssertEqual($0.status, .ok) }
        }
    }
}

/// PSNR of two pictures of one size, over 16-bit samples.
func psnr(_ a: Picture, _ b: Picture) -> Double {
    precondition(a.width == b.width && a.height == b.height)
    var sum = 0.0
    for (x, y) in zip(a.samples, b.samples) {
        let d = (Double(x) - Double(y)) / 65535
        sum += d * d
    }
    let mse = sum / Double(a.samples.count)
    return mse == 0 ? .infinity : 10 * log10(1 / mse)
}
