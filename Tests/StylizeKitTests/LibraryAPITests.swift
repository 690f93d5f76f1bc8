import Foundation
import XCTest
@testable import StylizeKit

/// StylizeKit as a Swift program uses it: async jobs, progress once per frame, cancellation
/// that leaves nothing behind, explicit model folders, messages without command-line flags.
final class LibraryAPITests: XCTestCase {
    var style: StyleVector { get throws { try StyleVectorFile.read(TestSupport.styleVectorFile) } }

    func clip(_ dir: URL, frames: Int, size: String = "96x64") throws -> URL {
        let url = dir.appendingPathComponent("clip-\(frames).mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25", "-frames:v", "\(frames)",
                                        "-c:v", "libx264", "-pix_fmt", "yuv420p", url.path])
        return url
    }

    func testAsyncClipJobReportsEachFrameOnce() async throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 20), output = dir.appendingPathComponent("out.mp4")
        let reports = Locked<[JobProgress]>([])
        var options = JobOptions()
        options.stabilization = 0
        let summary = try await VideoStylizer(stylizer: stylizer, options: options).stylize(input, to: output, style: style) { progress in
            reports.withLock { $0.append(progress) }
        }
        XCTAssertEqual(summary.frames, 20)
        let seen = reports.withLock { $0 }
        XCTAssertEqual(seen.map(\.framesDone), Array(1...20), "one report per frame written, in order")
        XCTAssertEqual(Set(seen.compactMap(\.framesTotal)), [20])
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path))
    }

    func testCancellingTheTaskStopsTheJobAndLeavesNoOutput() async throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 400, size: "320x180"), output = dir.appendingPathComponent("out.mp4")
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        let job = VideoStylizer(stylizer: try stylizer, options: JobOptions())
        let style = try self.style
        let started = Locked(false)
        let task = Task {
            try await job.stylize(input, to: output, style: style) { _ in started.withLock { $0 = true } }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(nanoseconds: 5_000_000) }
        task.cancel()
        do {
            let summary = try await task.value
            XCTFail("the job ran to the end (\(summary.frames) frames)")
        } catch is CancellationError {
        }
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), before, "no output, no temporary file")
    }

    /// The synchronous run, stopped by its `isCancelled`, throws the same `CancellationError` as
    /// a cancelled task, and leaves no output.
    func testSynchronousRunStopsWithCancellationError() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 50, size: "160x90"), output = dir.appendingPathComponent("out.mp4")
        let job = VideoStylizer(stylizer: try stylizer, options: JobOptions())
        let timeline = try StyleTimeline(constant: try style, strength: 1)
        XCTAssertThrowsError(try job.run(input: .file(input), output: .file(output), timeline: timeline, isCancelled: { true })) {
            XCTAssertTrue($0 is CancellationError, "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }

    func testAsyncFrameSequenceAndPicture() async throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let frames = dir.appendingPathComponent("frames"), styled = dir.appendingPathComponent("styled")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        for i in 1...3 {
            try FileManager.default.copyItem(at: TestSupport.fixture("content_96x96.png"), to: frames.appendingPathComponent("f\(i).png"))
        }
        let reports = Locked(0)
        let stylizer = try self.stylizer, style = try self.style
        let summary = try await FrameSequenceStylizer(stylizer: stylizer, options: FrameSequenceOptions())
            .stylize(frames, to: styled, style: style) { _ in reports.withLock { $0 += 1 } }
        XCTAssertEqual(summary.frames, 3)
        XCTAssertEqual(reports.withLock { $0 }, 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: styled.path).sorted(), ["f1.png", "f2.png", "f3.png"])

        let picture = try Picture(contentsOf: TestSupport.fixture("content_96x96.png"))
        let result = try await stylizer.stylize(picture, style: style)
        XCTAssertEqual([result.width, result.height], [96, 96])
        let synchronous = try stylizer.stylize(picture, style: style, worker: nil)
        XCTAssertEqual(result, synchronous, "the async call is the synchronous one")
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await stylizer.stylize(picture, style: style)
        }
        do {
            _ = try await cancelled.value
            XCTFail("a cancelled task stylized")
        } catch is CancellationError {
        }
    }

    /// Loading off the caller's thread gives the same models, and the same errors.
    func testAsyncLoad() async throws {
        let loaded = try await Stylizer.load()
        let picture = try Picture(contentsOf: TestSupport.fixture("content_96x96.png"))
        XCTAssertEqual(try loaded.styleVector(for: picture), try stylizer.styleVector(for: picture))
        let missing = try TestSupport.temporaryDirectory(self).appendingPathComponent("none")
        do {
            _ = try await Stylizer.load(modelsDirectory: missing)
            XCTFail("loaded from a folder that does not exist")
        } catch StylizeError.modelMissing {
        }
    }

    /// A folder given explicitly is the only place looked in, and it must exist.
    func testExplicitModelsFolderMustExistAndHoldTheModels() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let missing = dir.appendingPathComponent("no-such-folder")
        XCTAssertThrowsError(try Stylizer(modelsDirectory: missing)) { error in
            guard case StylizeError.modelMissing(_, let searched) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(searched, [missing.path + " (no such folder)"])
        }
        // An empty folder: not silently replaced by $STYLIZE_MODELS or the cache, which hold them.
        XCTAssertThrowsError(try Stylizer(modelsDirectory: dir)) { error in
            guard case StylizeError.modelMissing(_, let searched) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(searched, [dir.path])
        }
    }

    /// The library describes problems; the `stylize` tool adds its flags.
    func testMessagesNameNoFlags() throws {
        let errors: [StylizeError] = [.outputExists("out.mp4"), .modelMissing(name: "m.onnx", searched: ["/models"]),
                                      .modelDamaged(path: "/models/m.onnx", reason: "SHA-256 differs")]
        for error in errors {
            let text = error.localizedDescription
            XCTAssertFalse(text.contains("--") || text.contains("scripts/"), text)
        }
        XCTAssertEqual(StylizeError.outputExists("out.mp4").localizedDescription, "out.mp4 already exists and replacing it was not asked for")
        let dir = try TestSupport.temporaryDirectory(self)
        let existing = dir.appendingPathComponent("exists.png")
        try Data("x".utf8).write(to: existing)
        try assertFails(["image", TestSupport.fixture("content_96x96.png").path, "-s", TestSupport.styleVectorFile.path, "-o", existing.path],
                        in: dir, saying: "exists.png already exists: pass --overwrite to replace it")
    }

    /// Settings the library refuses are named in words; the command line names its flags.
    func testRefusedSettingsAreNamedInWordsAndByFlagsOnTheCommandLine() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 3)
        let style = try self.style
        func libraryMessage(_ change: (inout JobOptions) -> Void, output: String) -> String {
            var options = JobOptions()
            change(&options)
            do {
                _ = try VideoStylizer(stylizer: stylizer, options: options).run(input: .file(input), output: .file(dir.appendingPathComponent(output)),
                                                                               timeline: StyleTimeline(constant: style))
                return "no error"
            } catch { return error.localizedDescription }
        }
        let cases: [(message: String, arguments: [String], flag: String)] = [
            (libraryMessage({ $0.codec = "ffv1"; $0.preset = "fast" }, output: "a.mkv"), ["--codec", "ffv1", "--preset", "fast", "-o", "a.mkv"], "leave out --preset"),
            (libraryMessage({ $0.codec = "ffv1"; $0.crf = 20 }, output: "b.mkv"), ["--codec", "ffv1", "--crf", "20", "-o", "b.mkv"], "leave out --crf"),
            (libraryMessage({ _ in }, output: "c.xyz"), ["-o", "c.xyz"], "name one with --format"),
            (libraryMessage({ $0.codec = "ffv1" }, output: "d.mp4"), ["--codec", "ffv1", "-o", "d.mp4"], "choose another --codec or container"),
        ]
        for (message, arguments, flag) in cases {
            XCTAssertFalse(message.contains("--") || message.contains("stylize ") || message == "no error", message)
            let outcome = try TestSupport.stylize(["video", input.path, "-s", TestSupport.styleVectorFile.path] + arguments)
            XCTAssertNotEqual(outcome.status, 0)
            XCTAssertTrue(outcome.stderr.contains(flag), "\(outcome.stderr) should say \(flag)")
        }
        XCTAssertThrowsError(try stylizer.styleVector(for: StyleSpec(parsing: "starry-nite"))) { error in
            XCTAssertFalse(error.localizedDescription.contains("stylize "), error.localizedDescription)
        }
        XCTAssertThrowsError(try FrameSequence(input.path)) { error in
            XCTAssertFalse(error.localizedDescription.contains("stylize "), error.localizedDescription)
        }
    }
}
