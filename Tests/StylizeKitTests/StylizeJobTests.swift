import Foundation
import StylizeTestSupport
import XCTest
@testable import StylizeKit

/// `StylizeJob`: its command line runs the same job, it refuses bad settings in one place, and
/// its handle reports progress and cancels.
final class StylizeJobTests: XCTestCase {
    func makeInputs(_ dir: URL) throws {
        try GoldenOutputTests.makeInputs(in: dir)
    }

    /// Each job run in this process and through `stylize` with its `commandLine` (from the
    /// same folder) writes the same decoded frames.
    func testCommandLineRunsTheSameJob() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try makeInputs(dir)
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        let style = try StyleSpec(parsing: "style.json")
        var jobs: [StylizeJob] = []
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("cli"), withIntermediateDirectories: true)

        var clip = StylizeJob(source: .clip(.file(URL(fileURLWithPath: "clip.mkv"))), output: .file(URL(fileURLWithPath: "a.mkv")),
                              style: .single(style, strength: 0.6))
        clip.options.processingSize = 48
        clip.options.stabilization = 0.4
        clip.options.codec = "ffv1"
        clip.options.start = 0.2
        jobs.append(clip)

        var keyed = StylizeJob(source: .clip(.file(URL(fileURLWithPath: "clip.mkv"))), output: .file(URL(fileURLWithPath: "b.mp4")),
                               style: .keyframes([try KeyframeSpec(time: .seconds(0.2), style: style),
                                                  try KeyframeSpec(time: .frame(9), style: StyleSpec(parsing: "style_128.png"), strength: 0.5)],
                                                 easing: .smooth))
        keyed.options.frameRate = 5
        keyed.options.audio.drop = true
        keyed.options.stabilization = 0
        keyed.styleSize = 128
        jobs.append(keyed)

        var frames = StylizeJob(source: .frames(URL(fileURLWithPath: "frames")), output: .file(URL(fileURLWithPath: "c.mkv")), style: .single(style))
        frames.sequence.frameRate = 12
        frames.options.codec = "ffv1"
        jobs.append(frames)

        var picture = StylizeJob(source: .picture(URL(fileURLWithPath: "photo.png")), output: .file(URL(fileURLWithPath: "d.png")),
                                 style: .single(style, strength: 0.8))
        picture.options.preserveColors = true
        jobs.append(picture)

        for var job in jobs {
            job.options.precision = .f32
            let summary = try job.run(with: stylizer)
            XCTAssertGreaterThan(summary.frames, 0)
            let ours = dir.appendingPathComponent(job.output.path)
            XCTAssertTrue(FileManager.default.fileExists(atPath: ours.path), "\(ours.path): \((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])")
            var theirs = job
            theirs.output = .file(URL(fileURLWithPath: "cli/" + job.output.path))
            let words = Array(theirs.commandLine.dropFirst())
            let outcome = try TestSupport.stylize(words, in: dir)
            XCTAssertEqual(outcome.status, 0, "\(theirs.shellCommand): \(outcome.stderr)")
            XCTAssertEqual(try GoldenManifest.digest(of: dir.appendingPathComponent("cli/" + job.output.path)),
                           try GoldenManifest.digest(of: ours), theirs.shellCommand)
        }
        XCTAssertEqual(keyed.shellCommand,
                       "stylize video clip.mkv -o b.mp4 --keyframe 0.2=style.json --keyframe '#9=style_128.png@0.5' --ease smooth "
                       + "--style-size 128 --fps 5 --no-stabilize --no-audio")
    }

    func testBadJobsAreRefusedBeforeAnythingIsRead() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/in.mp4"), out = URL(fileURLWithPath: "/nonexistent/out.mp4")
        let style = try StyleSpec(parsing: "starry-night")
        var jobs: [(StylizeJob, String)] = []
        jobs.append((StylizeJob(source: .clip(.file(missing)), output: .file(out), style: .single(style, strength: 1.5)),
                     "strength must be between 0 and 1, got 1.5"))
        jobs.append((StylizeJob(source: .picture(missing), output: .file(out),
                                style: .keyframes([try KeyframeSpec(time: .seconds(0), style: style)])),
                     "keyframes need a clip or a frame sequence"))
        var cut = StylizeJob(source: .frames(missing), output: .file(out), style: .single(style))
        cut.options.start = 1
        jobs.append((cut, "a start and a length go with clips"))
        var small = StylizeJob(source: .clip(.file(missing)), output: .file(out), style: .single(style))
        small.styleSize = 8
        jobs.append((small, "style size must be from"))
        jobs.append((StylizeJob(source: .picture(missing), output: .standardStream, style: .single(style)),
                     "only a clip or a live source can be written to standard output"))
        for (job, message) in jobs {
            XCTAssertThrowsError(try job.validate(), message) { error in
                guard case StylizeError.invalidArgument(let text) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(text.contains(message), "\(text) should say \(message)")
            }
        }
    }

    func testHandleReportsEachFrameAndCancels() async throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try makeInputs(dir)
        let stylizer = try self.stylizer
        let style = try StyleSpec(parsing: dir.appendingPathComponent("style.json").path)
        let output = dir.appendingPathComponent("out.mkv")
        let job = StylizeJob(source: .clip(.file(dir.appendingPathComponent("clip.mkv"))), output: .file(output), style: .single(style))
        let handle = job.start(with: stylizer)
        var done: [Int] = []
        for await progress in handle.progress { done.append(progress.framesDone) }
        let summary = try await handle.summary
        XCTAssertEqual(summary.frames, 12)
        XCTAssertEqual(done, Array(1...12), "one report per frame, in order, and the sequence ends with the job")

        var long = job
        let longClip = dir.appendingPathComponent("long.mkv")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-frames:v", "400", "-c:v", "ffv1", longClip.path])
        long.source = .clip(.file(longClip))
        long.output = .file(dir.appendingPathComponent("cancelled.mp4"))
        let cancelled = long.start(with: stylizer)
        for await progress in cancelled.progress where progress.framesDone >= 2 {
            cancelled.cancel()
            break
        }
        do {
            _ = try await cancelled.summary
            XCTFail("a cancelled job ends in CancellationError")
        } catch is CancellationError {}
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cancelled.mp4").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".cancelled") || $0.hasPrefix("cancelled") }, [],
                       "no partial or temporary file")
    }
}
