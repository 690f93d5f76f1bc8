import Foundation
import XCTest
@testable import StylizeKit

/// Hostile inputs, bad styles, unwritable outputs and interruptions: every case exits cleanly
/// with one line naming the problem, and the output path is as it should be afterwards.
final class RobustnessTests: XCTestCase {
    var style: String { get throws { TestSupport.styleVectorFile.path } }

    func write(_ bytes: [UInt8], _ url: URL) throws { try Data(bytes).write(to: url) }

    func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    /// A 4-second 160x90 H.264 + AAC clip; `faststart` puts the index (moov) first.
    func clip(_ dir: URL, _ name: String, faststart: Bool = false) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "lavfi", "-i", "sine",
                                        "-t", "4", "-c:v", "libx264", "-c:a", "aac"] + (faststart ? ["-movflags", "+faststart"] : []) + [url.path])
        return url
    }

    func testHostilePictures() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let inputs = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        try write([], inputs.appendingPathComponent("empty.png"))
        try write(randomBytes(4096, seed: 1), inputs.appendingPathComponent("random.jpg"))
        try Picture(width: 1, height: 1, samples: [65535, 0, 0]).write(to: inputs.appendingPathComponent("one.png"), overwrite: false)
        try Picture(width: 3, height: 5, samples: [UInt16](repeating: 30000, count: 45)).write(to: inputs.appendingPathComponent("tiny.png"), overwrite: false)
        // A PNG header that declares 20000x20000 pixels.
        var huge: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
                             0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0]
        huge += [0x2F, 0x66, 0x8C, 0x5B] + randomBytes(64, seed: 2)  // a CRC and junk
        try write(huge, inputs.appendingPathComponent("huge.png"))
        let out = dir.appendingPathComponent("out.png").path
        let cases = [("empty.png", "empty.png"), ("random.jpg", "random.jpg"), ("one.png", "too small"), ("tiny.png", "too small"),
                     ("huge.png", "huge.png")]
        for (name, message) in cases {
            try assertFails(["image", inputs.appendingPathComponent(name).path, "-s", try style, "-o", out], in: dir, saying: message)
        }
        // The same files as styles.
        for name in ["empty.png", "random.jpg", "huge.png"] {
            try assertFails(["image", TestSupport.fixture("content_96x96.png").path, "-s", inputs.appendingPathComponent(name).path, "-o", out],
                            in: dir, saying: name)
        }
    }

    func testOddSizesAndLayoutsWork() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=33x17", "-frames:v", "1", "-pix_fmt", "rgb24",
                                        dir.appendingPathComponent("odd.png").path])
        // CMYK decodes to the colours it was made from.
        let cmyk = try Picture(contentsOf: TestSupport.fixture("cmyk.jpg")).rgbImage
        XCTAssertGreaterThan(cmyk.psnr(try Picture(contentsOf: TestSupport.fixture("cmyk_source.png")).rgbImage), 30)
        let cases = [dir.appendingPathComponent("odd.png"), TestSupport.fixture("grey_4x3.pgm"), TestSupport.fixture("cmyk.jpg"),
                     TestSupport.fixture("rgba_2x2.png"), TestSupport.fixture("rgb16_5x3.png")]
        for input in cases {
            let picture = try Picture(contentsOf: input)
            let out = dir.appendingPathComponent("out-\(input.lastPathComponent).png")
            let ran = try TestSupport.stylize(["image", input.path, "-s", try style, "-o", out.path] + (min(picture.width, picture.height) < 8 ? ["--size", "16"] : []))
            XCTAssertEqual(ran.status, 0, "\(input.lastPathComponent): \(ran.stderr)")
            let result = try Picture(contentsOf: out)
            XCTAssertEqual([result.width, result.height], [picture.width, picture.height], input.lastPathComponent)
        }
        // An odd-sized clip: 4:2:0 needs even sides, so the output loses the odd line.
        let odd = dir.appendingPathComponent("odd.mkv")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=65x37:rate=10", "-t", "1", "-c:v", "ffv1", odd.path])
        let out = dir.appendingPathComponent("odd-out.mp4")
        let ran = try TestSupport.stylize(["video", odd.path, "-s", try style, "-o", out.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let size = try TestSupport.tool("ffprobe", ["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", out.path])
        XCTAssertEqual(size.trimmingCharacters(in: .whitespacesAndNewlines), "64,36")
    }

    func testHostileClips() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let inputs = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        let base = try clip(inputs, "base.mp4")
        let fast = try clip(inputs, "fast.mp4", faststart: true)
        try write([], inputs.appendingPathComponent("empty.mp4"))
        try write(randomBytes(65536, seed: 3), inputs.appendingPathComponent("random.mp4"))
        try String(repeating: "not a clip\n", count: 100).write(to: inputs.appendingPathComponent("text.mp4"), atomically: true, encoding: .utf8)
        let whole = try Data(contentsOf: base)
        try whole.prefix(whole.count / 2).write(to: inputs.appendingPathComponent("nomoov.mp4"))  // the index is at the end
        let out = dir.appendingPathComponent("out.mkv").path
        for name in ["empty.mp4", "random.mp4", "text.mp4", "nomoov.mp4"] {
            try assertFails(["video", inputs.appendingPathComponent(name).path, "-s", try style, "-o", out], in: dir, saying: name)
        }

        // The index first, the data cut in the middle of a frame: what is there is stylized.
        let faststart = try Data(contentsOf: fast)
        let cut = inputs.appendingPathComponent("cut.mp4")
        try faststart.prefix(faststart.count * 6 / 10).write(to: cut)
        var ran = try TestSupport.stylize(["video", cut.path, "-s", try style, "-o", out, "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        var summary = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
        XCTAssertGreaterThan(summary?["frames"] as? Int ?? 0, 30)
        XCTAssertLessThan(summary?["frames"] as? Int ?? 100, 100)

        // Garbage in the middle of the stream: damaged frames are concealed or skipped and
        // counted, and the clip is finished.
        var bytes = [UInt8](faststart)
        let middle = bytes.count / 2
        bytes.replaceSubrange(middle..<(middle + 3000), with: randomBytes(3000, seed: 4))
        let corrupt = inputs.appendingPathComponent("corrupt.mp4")
        try write(bytes, corrupt)
        ran = try TestSupport.stylize(["video", corrupt.path, "-s", try style, "-o", dir.appendingPathComponent("corrupt-out.mkv").path, "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        summary = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
        XCTAssertGreaterThan(summary?["frames"] as? Int ?? 0, 90, "the rest of the clip is there")
        XCTAssertGreaterThan(summary?["damaged"] as? Int ?? 0, 0, "the damage is counted")
        XCTAssertTrue(ran.stderr.contains("damaged"), ran.stderr)
    }

    func testFrameFolderWithStrayFilesAndGaps() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let frames = dir.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        for n in [1, 2, 3, 7, 8] {
            try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=48x32", "-frames:v", "1",
                                            frames.appendingPathComponent(String(format: "cam_%03d.png", n)).path])
        }
        try "notes".write(to: frames.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        try write(randomBytes(500, seed: 5), frames.appendingPathComponent("cam_005.png"))  // a broken frame
        let out = dir.appendingPathComponent("out")
        var ran = try TestSupport.stylize(["frames", frames.path, "-s", try style, "-o", out.path, "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(),
                       ["cam_001.png", "cam_002.png", "cam_003.png", "cam_007.png", "cam_008.png"])
        XCTAssertTrue(ran.stderr.contains("cam_005.png"), "the broken frame is reported: \(ran.stderr)")
        // A printf pattern goes over the gap too.
        let clip = dir.appendingPathComponent("cam.mkv")
        ran = try TestSupport.stylize(["frames", frames.path + "/cam_%03d.png", "-s", try style, "-o", clip.path, "--fps", "5"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(try TestSupport.tool("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", clip.path])
            .trimmingCharacters(in: .whitespacesAndNewlines), "5")
    }

    func testBadStyles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let content = TestSupport.fixture("content_96x96.png").path
        let out = dir.appendingPathComponent("out.png").path
        let damaged = dir.appendingPathComponent("damaged.json")
        try #"{"vector": [1, 2, 3"#.write(to: damaged, atomically: true, encoding: .utf8)
        let notImage = dir.appendingPathComponent("notes.txt")
        try "text".write(to: notImage, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["-s", dir.appendingPathComponent("missing.jpg").path], "no such file"),
            (["-s", notImage.path], "neither a picture nor a .json vector file"),
            (["-s", damaged.path], "not a style vector file"),
            (["-s", "\(try style):-0.5"], "negative"),
            (["-s", "\(try style):0,\(try style):0"], "add up to zero"),
        ]
        for (arguments, message) in cases {
            try assertFails(["image", content, "-o", out] + arguments, in: dir, saying: message)
        }
        let clip = try self.clip(dir, "clip.mp4")
        let videoOut = dir.appendingPathComponent("out.mkv").path
        let keyframeCases: [([String], String)] = [
            (["--keyframe", "soon=\(try style)"], "bad time"),
            (["--keyframe", "#x=\(try style)"], "frame index"),
            (["--keyframe", "1=\(try style)@2"], "strength"),
            (["--keyframe", "no-equals-sign"], "TIME=STYLE"),
            (["--keyframe", "1=\(dir.appendingPathComponent("gone.jpg").path)"], "no such file"),
            (["--keyframes", damaged.path], "not a keyframes file"),
            (["--keyframe", "1=\(try style)", "-s", try style], "not both"),
        ]
        for (arguments, message) in keyframeCases {
            try assertFails(["video", clip.path, "-o", videoOut] + arguments, in: dir, saying: message)
        }
    }

    func testUnwritableOutputs() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let content = TestSupport.fixture("content_96x96.png").path
        try assertFails(["image", content, "-s", try style, "-o", dir.appendingPathComponent("missing/out.png").path], in: dir, saying: "no such directory")
        let clip = try self.clip(dir, "clip.mp4")
        try assertFails(["video", clip.path, "-s", try style, "-o", dir.appendingPathComponent("missing/out.mkv").path], in: dir, saying: "no such directory")
        try assertFails(["video", clip.path, "-s", try style, "-o", clip.path, "--overwrite"], in: dir, saying: "is the input")

        // Read-only and full file systems: small tmpfs mounts (root only; CI runs as root).
        guard getuid() == 0 else { throw XCTSkip("mounting a read-only or a full file system needs root") }
        for (options, name) in [("ro,size=1m", "readonly"), ("size=256k", "full")] {
            let mount = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
            try TestSupport.tool("mount", ["-t", "tmpfs", "-o", options, "tmpfs", mount.path])
            defer { _ = try? TestSupport.tool("umount", [mount.path]) }
            if name == "full" {
                // Fill it up but for a few kilobytes.
                let filler = mount.appendingPathComponent("filler")
                XCTAssertTrue(FileManager.default.createFile(atPath: filler.path, contents: Data(count: 248 * 1024)))
            }
            let picture = mount.appendingPathComponent("out.png").path
            let video = mount.appendingPathComponent("out.mkv").path
            try assertFails(["image", content, "-s", try style, "-o", picture], in: mount, saying: picture)
            try assertFails(["video", clip.path, "-s", try style, "-o", video], in: mount, saying: video)
        }
    }

    /// SIGINT and SIGTERM part-way: the existing destination is untouched, no temporary file.
    func testSignalsLeaveTheDestinationAlone() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, "clip.mp4")
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            let output = dir.appendingPathComponent("keep.mkv")
            try "the old result".write(to: output, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = TestSupport.executable
            process.arguments = ["video", input.path, "-s", try style, "-o", output.path, "--overwrite", "--precision", "f32", "--size", "256"]
            process.standardError = Pipe()
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while try FileManager.default.contentsOfDirectory(atPath: dir.path).count < 3 && Date() < deadline && process.isRunning {
                usleep(20_000)  // until the temporary output appears
            }
            usleep(200_000)
            XCTAssertTrue(process.isRunning)
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, status)
            XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), "the old result")
            XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["clip.mp4", "keep.mkv"])
        }
    }
}

/// A very long clip: every frame comes out, audio and video end together, memory stays flat.
final class LongClipTests: XCTestCase {
    /// The end time (seconds) of the last packet of `stream` ("v:0", "a:0") and the packet count.
    func end(_ url: URL, _ stream: String) throws -> (seconds: Double, packets: Int) {
        let rows = try TestSupport.tool("ffprobe", ["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time,duration_time",
                                                    "-of", "csv=p=0", url.path])
            .split(whereSeparator: \.isNewline).map { $0.split(separator: ",").compactMap { Double($0) } }.filter { $0.count == 2 }
        return (rows.map { $0[0] + $0[1] }.max() ?? 0, rows.count)
    }

    func testThirtyMinutesOfSmallFrames() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let style = TestSupport.styleVectorFile.path
        var peaks: [Double] = []
        for minutes in [1, 30] {
            let input = dir.appendingPathComponent("long\(minutes).mp4")
            try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25", "-f", "lavfi",
                                            "-i", "sine=frequency=300:sample_rate=16000", "-t", "\(minutes * 60)",
                                            "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-b:a", "32k", input.path])
            let output = dir.appendingPathComponent("out\(minutes).mkv")
            let ran = try TestSupport.stylize(["video", input.path, "-s", style, "-o", output.path, "--json"])
            XCTAssertEqual(ran.status, 0, ran.stderr)
            let summary = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(summary?["frames"] as? Int, minutes * 60 * 25)
            let video = try end(output, "v:0"), audio = try end(output, "a:0")
            XCTAssertEqual(video.packets, minutes * 60 * 25, "frames in == frames out")
            XCTAssertEqual(video.seconds, Double(minutes * 60), accuracy: 0.04)
            XCTAssertEqual(audio.seconds, video.seconds, accuracy: 0.04, "audio and video end within one frame")
            peaks.append(try XCTUnwrap(summary?["peakMemoryMiB"] as? Double, "the summary reports peak memory"))
            try FileManager.default.removeItem(at: input)
            try FileManager.default.removeItem(at: output)
        }
        print("peak memory: 1 minute \(peaks[0]) MiB, 30 minutes \(peaks[1]) MiB")
        XCTAssertLessThanOrEqual(peaks[1], peaks[0] * 1.1 + 8, "memory does not grow with the clip's length")
    }
}
