import Foundation
import XCTest
@testable import StylizeKit

/// `stylize video` end to end on real and made-up clips, checked with ffprobe.
final class VideoTests: XCTestCase {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("SampleClips/bigbuckbunny.mp4")
    var style: URL { get throws { TestSupport.styleVectorFile } }

    /// Presentation times (seconds) of every frame or packet of `stream` ("v:0", "a:0").
    func times(_ url: URL, _ stream: String) throws -> [Double] {
        let kind = stream.hasPrefix("v") ? "frame=best_effort_timestamp_time" : "packet=pts_time"
        return try TestSupport.tool("ffprobe", ["-v", "error", "-select_streams", stream, "-show_entries", kind, "-of", "csv=p=0", url.path])
            .split(whereSeparator: \.isNewline).compactMap { Double($0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
    }

    /// Seconds from the first audio packet's start to the last one's end.
    func audioSpan(_ url: URL) throws -> Double {
        let rows = try TestSupport.tool("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time,duration_time",
                                                    "-of", "csv=p=0", url.path])
            .split(whereSeparator: \.isNewline).map { $0.split(separator: ",").compactMap { Double($0) } }.filter { $0.count == 2 }
        guard let first = rows.first, let last = rows.last else { return 0 }
        return last[0] + last[1] - first[0]
    }

    func streamInfo(_ url: URL) throws -> [[String: Any]] {
        let json = try TestSupport.tool("ffprobe", ["-v", "error", "-show_streams", "-of", "json", url.path])
        return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["streams"] as? [[String: Any]] ?? []
    }

    /// A 320x180 copy of the sample clip with its audio: 132 frames at 25 fps, AAC.
    func smallClip(_ dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("small.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", Self.sample.path, "-vf", "scale=320:180", "-c:v", "libx264", "-crf", "23",
                                        "-c:a", "copy", url.path])
        return url
    }

    /// Two workers, the stabilizer and a keyframed transition at once: every stage of the
    /// pipeline runs concurrently. In CI's ThreadSanitizer pass the `stylize` run here is built
    /// with ThreadSanitizer, and any report of its fails the test (see `TestSupport.run`).
    func testTwoWorkersStabilizedTransition() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("in.mp4"), output = dir.appendingPathComponent("out.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", Self.sample.path, "-frames:v", "40", "-vf", "scale=192:108", "-c:v", "libx264",
                                        "-c:a", "copy", input.path])
        let ran = try TestSupport.stylize(["video", input.path, "-o", output.path, "--workers", "2", "--stabilize", "0.6",
                                           "--keyframe", "0=\(try style.path)", "--keyframe", "1.2=great-wave@0.7", "--ease", "smooth", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(try times(output, "v:0").count, 40)
        let summary = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["frames"] as? Int, 40)
    }

    /// The stabilizer on a clip, as `stylize video` runs it (its frames blended in the encoder's
    /// 4:2:0 YUV): a still photo seen by a noisy camera, lossless in and out. Frame-to-frame
    /// change must fall to at most half of per-frame stylization's, and no frame may move
    /// further than 27 dB (in RGB) from its own per-frame stylization: a still clip stays well
    /// inside the frame limit (24 dB). A `video` whose stabilizer did nothing fails the first
    /// check; one that blended without limit, the second. The summary tells the CPU time the
    /// stabilizer took, a part of the job's, and none without it.
    func testStabilizerSteadiesAClip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let photo = Self.sample.deletingLastPathComponent().appendingPathComponent("chelsea.png")
        let input = dir.appendingPathComponent("still.mkv")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-loop", "1", "-i", photo.path, "-vf", "scale=320:212,noise=alls=5:allf=t",
                                        "-frames:v", "16", "-c:v", "ffv1", "-pix_fmt", "yuv420p", input.path])
        var stabilizerShares: [String: Double] = [:]
        func frames(_ extra: [String], _ name: String) throws -> [[UInt8]] {
            let output = dir.appendingPathComponent("\(name).mkv"), raw = dir.appendingPathComponent("\(name).rgb")
            let ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", output.path, "--codec", "ffv1", "--json"] + extra)
            XCTAssertEqual(ran.status, 0, ran.stderr)
            let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any])
            let cpu = try XCTUnwrap(summary["cpuSeconds"] as? Double, "the job's CPU time")
            XCTAssertGreaterThan(cpu, 0)
            if let stabilizer = summary["stabilizerCPUSeconds"] as? Double { stabilizerShares[name] = stabilizer / cpu }
            try TestSupport.tool("ffmpeg", ["-v", "error", "-i", output.path, "-f", "rawvideo", "-pix_fmt", "rgb24", raw.path])
            let bytes = [UInt8](try Data(contentsOf: raw)), size = 320 * 212 * 3
            XCTAssertEqual(bytes.count, 16 * size)
            return (0..<(bytes.count / size)).map { Array(bytes[($0 * size)..<(($0 + 1) * size)]) }
        }
        func meanSquare(_ a: [UInt8], _ b: [UInt8]) -> Double {
            zip(a, b).reduce(0.0) { let d = (Double($1.0) - Double($1.1)) / 255; return $0 + d * d } / Double(a.count)
        }
        let plain = try frames(["--no-stabilize"], "plain"), steady = try frames(["--stabilize", "0.7"], "steady")
        XCTAssertNil(stabilizerShares["plain"], "a stabilizer's time without one")
        let share = try XCTUnwrap(stabilizerShares["steady"], "the stabilizer's CPU time")
        XCTAssertTrue(share > 0 && share < 1, "the stabilizer took \(share) of the job's CPU time")
        let change = { (frames: [[UInt8]]) in (1..<frames.count).map { meanSquare(frames[$0], frames[$0 - 1]) }.reduce(0, +) / Double(frames.count - 1) }
        let (before, after) = (change(plain), change(steady))
        print("still noisy clip, frame-to-frame change: per-frame \(before), stabilized \(after) (\(after / before))")
        XCTAssertLessThanOrEqual(after, 0.5 * before, "the clip did not steady")
        let worst = zip(plain, steady).map { -10 * log10(max(meanSquare($0, $1), 1e-12)) }.min()!
        XCTAssertGreaterThanOrEqual(worst, 27, "a frame moved too far from its own stylization (\(worst) dB)")
    }

    func testClipKeepsEveryFrameTimingAndAudio() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try smallClip(dir)
        let output = dir.appendingPathComponent("out.mp4")
        let ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", output.path, "--size", "64", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let inFrames = try times(input, "v:0"), outFrames = try times(output, "v:0")
        XCTAssertEqual(outFrames.count, inFrames.count, "every frame")
        XCTAssertEqual(outFrames.count, 132)
        XCTAssertEqual(outFrames, outFrames.sorted(), "monotonic timestamps")
        XCTAssertEqual(outFrames.last! - outFrames.first!, inFrames.last! - inFrames.first!, accuracy: 0.04 + 1e-6, "duration within one frame")
        XCTAssertEqual(try audioSpan(output), try audioSpan(input), accuracy: 0.05, "audio kept, same duration within 50 ms")
        let streams = try streamInfo(output)
        XCTAssertEqual(streams.map { $0["codec_name"] as? String }, ["h264", "aac"])
        XCTAssertEqual(streams[0]["pix_fmt"] as? String, "yuv420p")
        XCTAssertEqual(streams[0]["width"] as? Int, 320)
        let summary = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["frames"] as? Int, 132)
    }

    func testCutPointsApplyToVideoAndAudio() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try smallClip(dir)
        let output = dir.appendingPathComponent("cut.mkv")
        let ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", output.path, "--size", "32",
                                           "--start", "1.2", "--duration", "00:00:02.000"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let frames = try times(output, "v:0")
        XCTAssertEqual(frames.count, 50, "2 s at 25 fps")
        XCTAssertEqual(frames.first ?? -1, 0, accuracy: 0.001, "starts at zero")
        XCTAssertEqual(try audioSpan(output), 2, accuracy: 0.05)
    }

    func testVariableFrameRateKeepsTimestamps() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("vfr.mkv")
        // 10 frames 40 ms apart, then 10 frames 100 ms apart, then 5 frames 33 ms apart.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=100", "-frames:v", "25",
                                        "-vf", "setpts='(if(lt(N,10),N*0.04,if(lt(N,20),0.4+(N-10)*0.1,1.4+(N-20)*0.033)))/TB'",
                                        "-fps_mode", "passthrough", "-c:v", "libx264", input.path])
        let expected = try times(input, "v:0")
        XCTAssertEqual(expected.count, 25)
        let output = dir.appendingPathComponent("vfr-out.mkv")
        let ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", output.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let got = try times(output, "v:0")
        XCTAssertEqual(got.count, expected.count)
        for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 0.0015) }
    }

    func testRotationIsKept() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("rotated.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x72:rate=10", "-t", "1",
                                        "-c:v", "libx264", input.path])
        try TestSupport.turnMP4(input)
        func rotation(_ url: URL) throws -> Int? {
            let sideData = try streamInfo(url).first?["side_data_list"] as? [[String: Any]]
            return sideData?.compactMap { $0["rotation"] as? Int }.first
        }
        let expected = try rotation(input)
        XCTAssertNotNil(expected, "the made-up clip carries a rotation")
        // MP4 stores the rotation: kept as a tag, pixels untouched.
        let mp4 = dir.appendingPathComponent("out.mp4")
        var ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", mp4.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(try rotation(mp4), expected)
        XCTAssertEqual(try streamInfo(mp4).first?["width"] as? Int, 128)
        // Matroska cannot store it in FFmpeg 5.1: the pixels are turned instead, so players
        // still show the clip upright.
        let mkv = dir.appendingPathComponent("out.mkv")
        ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", mkv.path, "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertNil(try rotation(mkv))
        XCTAssertEqual([try streamInfo(mkv).first?["width"] as? Int, try streamInfo(mkv).first?["height"] as? Int], [72, 128])
        // Turned the way the tag says: the MP4 as players show it (ffmpeg applies the tag when
        // decoding) and the turned MKV are the same picture. Turned the wrong way, they are not.
        func shown(_ url: URL) throws -> RGBImage {
            let png = dir.appendingPathComponent(url.lastPathComponent + ".png")
            try TestSupport.tool("ffmpeg", ["-v", "error", "-i", url.path, "-vf", "select=eq(n\\,5)", "-frames:v", "1", "-pix_fmt", "rgb24", png.path])
            return try Picture(contentsOf: png).rgbImage
        }
        let psnr = try shown(mp4).psnr(try shown(mkv))
        print("rotation: MP4 as shown vs turned MKV \(psnr) dB")
        XCTAssertGreaterThanOrEqual(psnr, 30, "the MKV's pixels are not turned the way the MP4's tag turns them")
    }

    /// A webcam-style AVI (MJPEG + PCM): PCM cannot go into MP4 or WebM, so it is re-encoded
    /// (AAC, Opus) rather than dropped; Matroska takes it as it is.
    func testAudioIsReencodedWhenTheContainerNeedsIt() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("cam.avi")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=15", "-f", "lavfi",
                                        "-i", "sine=frequency=440:sample_rate=22050", "-t", "2", "-c:v", "mjpeg", "-c:a", "pcm_s16le", input.path])
        let inputAudio = try audioSpan(input)
        XCTAssertEqual(inputAudio, 2, accuracy: 0.05)
        for (name, codec) in [("out.mp4", "aac"), ("out.webm", "opus"), ("out.mkv", "pcm_s16le")] {
            let output = dir.appendingPathComponent(name)
            let ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", output.path])
            XCTAssertEqual(ran.status, 0, ran.stderr)
            let streams = try streamInfo(output)
            XCTAssertEqual(streams.count, 2, name)
            XCTAssertEqual(streams.last?["codec_name"] as? String, codec, name)
            XCTAssertEqual(try times(output, "v:0").count, 30, name)
            XCTAssertEqual(try audioSpan(output), inputAudio, accuracy: 0.05, name)
            // The whole output decodes without a single error.
            let check = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["ffmpeg", "-v", "error", "-i", output.path, "-f", "null", "-"])
            XCTAssertEqual(check.status, 0)
            XCTAssertEqual(check.stderr, "", name)
        }
    }

    /// "-" streams through stdin and stdout, so stylize sits between two ffmpeg commands.
    func testPipesChainWithFFmpeg() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("piped.mkv")
        let command = """
        ffmpeg -v error -i '\(Self.sample.path)' -t 2 -vf scale=160:90 -c:v mpeg4 -c:a copy -f nut - \
          | '\(TestSupport.executable.path)' video - -s '\(try style.path)' -o - --format nut \
          | ffmpeg -v error -f nut -i - -c copy '\(output.path)'
        """
        let ran = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), ["-o", "pipefail", "-c", command])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(try times(output, "v:0").count, 50)
        XCTAssertEqual(try audioSpan(output), 2, accuracy: 0.05)

        // A pipe cannot seek or be read twice: a cut and a strength below 1 still work.
        let cut = dir.appendingPathComponent("piped-cut.mkv")
        let cutCommand = command.replacingOccurrences(of: "--format nut", with: "--format nut --start 0.5 --strength 0.5")
            .replacingOccurrences(of: output.path, with: cut.path)
        let cutRan = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), ["-o", "pipefail", "-c", cutCommand])
        XCTAssertEqual(cutRan.status, 0, cutRan.stderr)
        XCTAssertEqual(Double(try times(cut, "v:0").count), 37.5, accuracy: 1)
    }

    /// MPEG-4 Part 2 cannot take MPEG-TS's 1/90000 time base; the encoder falls back to
    /// 1/frame rate and the timestamps must follow it.
    func testTimestampsSurviveAnEncoderTimeBaseFallback() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("in.ts")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25", "-t", "2", "-c:v", "libx264", input.path])
        let output = dir.appendingPathComponent("out.avi")
        let ran = try TestSupport.stylize(["video", input.path, "-s", try style.path, "-o", output.path, "--codec", "mpeg4"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let got = try times(output, "v:0")
        XCTAssertEqual(got.count, 50)
        for (i, t) in got.enumerated() { XCTAssertEqual(t, Double(i) * 0.04, accuracy: 0.001) }
    }

    /// The codecs work on one thread while the network runs at a quarter of a frame's pixels or
    /// more, and on FFmpeg's threads when `--size` shrinks frames further (or their size is not
    /// known before decoding).
    func testCodecThreadsFollowHowMuchTheNetworkShrinksFrames() {
        var options = JobOptions()
        XCTAssertEqual(options.codecThreads(width: 3840, height: 2160), 1)
        options.processingSize = 1080
        XCTAssertEqual(options.codecThreads(width: 3840, height: 2160), 1, "exactly a quarter of the pixels")
        XCTAssertEqual(options.codecThreads(width: 1920, height: 1080), 1, "the network at a larger size than the frame")
        options.processingSize = 1000
        XCTAssertEqual(options.codecThreads(width: 3840, height: 2160), 0)
        options.processingSize = 360
        XCTAssertEqual(options.codecThreads(width: 640, height: 360), 1)
        XCTAssertEqual(options.codecThreads(width: 2160, height: 3840), 0, "a portrait 4K frame")
        XCTAssertEqual(options.codecThreads(width: 0, height: 0), 0)
    }

    func testRotatedImage() {
        // 3x2:  a b c      turned clockwise:  d a
        //       d e f                         e b
        //                                     f c
        let image = RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [Float($0), 0, 0] })
        XCTAssertEqual(image.rotated(clockwise: 90).pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), [3, 0, 4, 1, 5, 2])
        XCTAssertEqual(image.rotated(clockwise: 180).pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), [5, 4, 3, 2, 1, 0])
        XCTAssertEqual(image.rotated(clockwise: 270).pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), [2, 5, 1, 4, 0, 3])
        XCTAssertEqual(image.rotated(clockwise: 360), image)
        XCTAssertEqual(image.rotated(clockwise: 90).rotated(clockwise: 270), image)
    }

    func testRefusesToOverwriteAndLeavesNothingOnFailure() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("exists.mp4")
        try "precious".write(to: output, atomically: true, encoding: .utf8)
        let ran = try TestSupport.stylize(["video", Self.sample.path, "-s", try style.path, "-o", output.path])
        XCTAssertNotEqual(ran.status, 0)
        XCTAssertTrue(ran.stderr.contains("--overwrite"), ran.stderr)
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), "precious")

        let notVideo = dir.appendingPathComponent("notes.mp4")
        try String(repeating: "not a clip\n", count: 50).write(to: notVideo, atomically: true, encoding: .utf8)
        let bad = try TestSupport.stylize(["video", notVideo.path, "-s", try style.path, "-o", dir.appendingPathComponent("x.mp4").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["exists.mp4", "notes.mp4"])
    }

    func testInterruptRemovesPartialOutput() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("out.mkv")
        let process = Process()
        process.executableURL = TestSupport.executable
        process.arguments = ["video", Self.sample.path, "-s", try style.path, "-o", output.path, "--precision", "f32"]
        process.standardError = Pipe()
        try process.run()
        // Wait until the job has started writing (its temporary file exists), then interrupt.
        let deadline = Date().addingTimeInterval(60)
        while (try FileManager.default.contentsOfDirectory(atPath: dir.path)).isEmpty && Date() < deadline && process.isRunning {
            usleep(20_000)
        }
        usleep(300_000)
        XCTAssertTrue(process.isRunning, "the job should still be running")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no output and no temporary file")
    }
}
