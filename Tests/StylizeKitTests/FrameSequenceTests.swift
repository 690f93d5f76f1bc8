import Foundation
import XCTest
@testable import StylizeKit

/// `stylize frames` and the pieces behind it.
final class FrameSequenceTests: XCTestCase {
    var style: URL { get throws { TestSupport.styleVectorFile } }

    /// A webcam-style folder of grey PGM frames named cam1.pgm ... camN.pgm.
    func cameraFolder(_ dir: URL, count: Int) throws -> URL {
        let folder = dir.appendingPathComponent("cam")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "\(count)",
                                        "-vf", "format=gray", "-start_number", "1", folder.appendingPathComponent("cam%d.pgm").path])
        return folder
    }

    func testNaturalOrder() {
        let names = ["frame10.png", "frame2.png", "frame1.png", "frame100.png", "frame20.png"]
        XCTAssertEqual(names.sorted(by: FrameSequence.naturalOrder), ["frame1.png", "frame2.png", "frame10.png", "frame20.png", "frame100.png"])
    }

    func testPrintfPatternsBecomeRegularExpressions() {
        XCTAssertEqual(FrameSequence.regex(forPattern: "cam_%05d.jpg"), #"^cam_([0-9]{5})\.jpg$"#)
        XCTAssertEqual(FrameSequence.regex(forPattern: "f%d.png"), #"^f([0-9]+)\.png$"#)
        // A "%" that is not a number stands for itself, wherever it is.
        XCTAssertEqual(FrameSequence.regex(forPattern: "img_%04d_50%.png"), #"^img_([0-9]{4})_50%\.png$"#)
        XCTAssertEqual(FrameSequence.regex(forPattern: "100%"), #"^100%$"#)
        XCTAssertEqual(FrameSequence.regex(forPattern: "%s_%d"), #"^%s_([0-9]+)$"#)
    }

    func testFolderGlobAndPatternListTheSameFrames() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let folder = try cameraFolder(dir, count: 12)
        try "not a frame".write(to: folder.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let expected = (1...12).map { folder.appendingPathComponent("cam\($0).pgm").path }
        XCTAssertEqual(try FrameSequence(folder.path).files().map(\.path), expected)
        XCTAssertEqual(try FrameSequence(folder.path + "/*.pgm").files().map(\.path), expected)
        XCTAssertEqual(try FrameSequence(folder.path + "/cam%d.pgm").files().map(\.path), expected)
        XCTAssertThrowsError(try FrameSequence(dir.appendingPathComponent("missing").path))
    }

    func testGreyCameraFramesToFolderKeepNamesAndFormat() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let folder = try cameraFolder(dir, count: 12)
        let out = dir.appendingPathComponent("out")
        let ran = try TestSupport.stylize(["frames", folder.path, "-s", try style.path, "-o", out.path, "--json", "--no-stabilize"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(by: FrameSequence.naturalOrder)
        XCTAssertEqual(names, (1...12).map { "cam\($0).pgm" })
        let format = try TestSupport.tool("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,pix_fmt,width,height", "-of", "csv=p=0",
                                                      out.appendingPathComponent("cam7.pgm").path])
        XCTAssertEqual(format.trimmingCharacters(in: .whitespacesAndNewlines), "pgm,64,48,gray")
        // Each output frame is what `stylize image` makes of that frame.
        let single = dir.appendingPathComponent("single.pgm")
        XCTAssertEqual(try TestSupport.stylize(["image", folder.appendingPathComponent("cam7.pgm").path, "-s", try style.path, "-o", single.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: single), try Data(contentsOf: out.appendingPathComponent("cam7.pgm")))

        // --format png writes colour PNGs with the same base names.
        let png = dir.appendingPathComponent("png")
        XCTAssertEqual(try TestSupport.stylize(["frames", folder.path + "/cam%d.pgm", "-s", try style.path, "-o", png.path, "--format", "png"]).status, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: png.path).count, 12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: png.appendingPathComponent("cam12.png").path))
    }

    func testFramesToClip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let folder = try cameraFolder(dir, count: 12)
        let clip = dir.appendingPathComponent("cam.mp4")
        let ran = try TestSupport.stylize(["frames", folder.path, "-s", try style.path, "-o", clip.path, "--fps", "12"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let info = try TestSupport.tool("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames,r_frame_rate,width,height",
                                                    "-of", "csv=p=0", clip.path])
        XCTAssertEqual(info.trimmingCharacters(in: .whitespacesAndNewlines), "h264,64,48,12/1,12")
    }

    func testRefusesToWriteOverItsOwnFramesOrExistingOnes() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let folder = try cameraFolder(dir, count: 3)
        let before = try Data(contentsOf: folder.appendingPathComponent("cam1.pgm"))
        let same = try TestSupport.stylize(["frames", folder.path, "-s", try style.path, "-o", folder.path])
        XCTAssertNotEqual(same.status, 0)
        XCTAssertTrue(same.stderr.contains("input folder"), same.stderr)
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("cam1.pgm")), before)
        let out = dir.appendingPathComponent("out")
        XCTAssertEqual(try TestSupport.stylize(["frames", folder.path, "-s", try style.path, "-o", out.path]).status, 0)
        let again = try TestSupport.stylize(["frames", folder.path, "-s", try style.path, "-o", out.path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--overwrite"), again.stderr)
        XCTAssertEqual(try TestSupport.stylize(["frames", folder.path, "-s", try style.path, "-o", out.path, "--overwrite"]).status, 0)
    }

    /// --watch takes frames written after it started, including one written in two halves
    /// with a pause between them, and ends after --idle-exit.
    /// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
    func eventually(within seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    /// Ctrl-C part-way through a folder job keeps the frames it finished (each written whole)
    /// and says so; --resume then stylizes only the others, and its stabilizer, warmed up on
    /// the frames before the seam, paints them as an uninterrupted run does.
    func testStoppedFolderJobKeepsItsFramesAndResumes() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let frames = dir.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-frames:v", "60",
                                        frames.appendingPathComponent("f%03d.png").path])
        let out = dir.appendingPathComponent("out"), whole = dir.appendingPathComponent("whole")
        func written() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).sorted()
        }
        let process = Process()
        process.executableURL = TestSupport.executable
        process.arguments = ["frames", frames.path, "-s", try style.path, "-o", out.path, "--workers", "1"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        XCTAssertTrue(eventually { written().count >= 3 }, "no frames written")
        process.interrupt()
        XCTAssertTrue(eventually { !process.isRunning }, "the job did not stop on Ctrl-C")
        guard !process.isRunning else { return }
        XCTAssertEqual(process.terminationStatus, 130)
        let kept = written()
        XCTAssertLessThan(kept.count, 60, "the job ended before it was stopped")
        XCTAssertTrue(kept.allSatisfy { $0.hasPrefix("f") && $0.hasSuffix(".png") }, "only whole frames are left: \(kept)")
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(message.contains("the \(kept.count) frames finished are in \(out.path)") && message.contains("--resume"), message)
        let before = try kept.map { try Data(contentsOf: out.appendingPathComponent($0)) }

        try assertFails(["frames", frames.path, "-s", try style.path, "-o", out.path], in: out, saying: "already exists")
        try assertFails(["frames", frames.path, "-s", try style.path, "-o", out.path, "--resume", "--filmstrip", dir.appendingPathComponent("s.png").path],
                        in: out, saying: "does not go with --resume")
        let resumed = try TestSupport.stylize(["frames", frames.path, "-s", try style.path, "-o", out.path, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(written(), (1...60).map { String(format: "f%03d.png", $0) })
        XCTAssertEqual(try kept.map { try Data(contentsOf: out.appendingPathComponent($0)) }, before, "frames finished before are left as they were")

        let ran = try TestSupport.stylize(["frames", frames.path, "-s", try style.path, "-o", whole.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        for name in written().dropFirst(kept.count) {
            let a = try Picture(contentsOf: out.appendingPathComponent(name)), b = try Picture(contentsOf: whole.appendingPathComponent(name))
            XCTAssertGreaterThan(a.rgbImage.psnr(b.rgbImage), 40, "\(name): the resumed run against the uninterrupted one")
        }
    }

    /// Driven by what the watcher writes, not by sleeps: each step waits (30 s at most) for the
    /// outputs it expects, and the job is ended with Ctrl-C, as a user ends it.
    func testWatchPicksUpNewFramesOnlyWhenComplete() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let source = try cameraFolder(dir, count: 6)
        let watched = dir.appendingPathComponent("watched")
        try FileManager.default.createDirectory(at: watched, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.appendingPathComponent("cam1.pgm"), to: watched.appendingPathComponent("cam1.pgm"))
        let out = dir.appendingPathComponent("out")
        func written() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).filter { $0.hasSuffix(".pgm") }.sorted(by: FrameSequence.naturalOrder)
        }
        let process = Process()
        process.executableURL = TestSupport.executable
        process.arguments = ["frames", watched.path, "-s", try style.path, "-o", out.path, "--watch", "--no-stabilize"]
        process.standardError = Pipe()
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        XCTAssertTrue(eventually { written() == ["cam1.pgm"] }, "the frame already there: \(written())")
        for i in 2...5 {
            // Written elsewhere and moved in, as careful cameras do.
            let temporary = dir.appendingPathComponent("partial")
            try FileManager.default.copyItem(at: source.appendingPathComponent("cam\(i).pgm"), to: temporary)
            try FileManager.default.moveItem(at: temporary, to: watched.appendingPathComponent("cam\(i).pgm"))
        }
        XCTAssertTrue(eventually { written().count == 5 }, "frames moved in: \(written())")
        // Written in place, half of it, a pause longer than the watcher's settle time, then the rest.
        let data = try Data(contentsOf: source.appendingPathComponent("cam6.pgm"))
        let slow = watched.appendingPathComponent("cam6.pgm")
        XCTAssertTrue(FileManager.default.createFile(atPath: slow.path, contents: nil))
        let handle = try FileHandle(forWritingTo: slow)
        handle.write(data.prefix(data.count / 2))
        Thread.sleep(forTimeInterval: 1.2)
        handle.write(data.suffix(from: data.count / 2))
        try handle.close()
        XCTAssertTrue(eventually { written().count == 6 }, "the slowly written frame: \(written())")
        process.interrupt()
        XCTAssertTrue(eventually { !process.isRunning }, "the watcher did not stop on Ctrl-C")
        guard !process.isRunning else { return }
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(written(), (1...6).map { "cam\($0).pgm" })
        let single = dir.appendingPathComponent("single.pgm")
        XCTAssertEqual(try TestSupport.stylize(["image", source.appendingPathComponent("cam6.pgm").path, "-s", try style.path, "-o", single.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: single), try Data(contentsOf: out.appendingPathComponent("cam6.pgm")), "the paused frame was read whole")
    }
}
