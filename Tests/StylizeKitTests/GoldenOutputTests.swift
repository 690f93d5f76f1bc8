import Foundation
import StylizeTestSupport
import XCTest
@testable import StylizeKit

/// A fixed set of commands whose outputs must not change when the code is reorganised: each
/// output's decoded frames and audio are digested and compared with the golden manifest
/// (`GoldenManifest`, which says how to record it anew).
final class GoldenOutputTests: XCTestCase {
    /// One command and where it writes (files or folders), relative to the working folder;
    /// `stdin` and `stdout` name files the command reads and writes through pipes.
    struct Case {
        var name: String
        var arguments: [String]
        var outputs: [String]
        var stdin: String?
        var stdout: String?

        init(name: String, arguments: [String], output: String, also: [String] = [], stdin: String? = nil, stdout: String? = nil) {
            (self.name, self.arguments, outputs, self.stdin, self.stdout) = (name, arguments, [output] + also, stdin, stdout)
        }
    }

    static let cases: [Case] = [
        Case(name: "video", arguments: ["video", "clip.mkv", "-s", "style.json", "-o", "video.mp4"], output: "video.mp4"),
        Case(name: "video-lossless", arguments: ["video", "clip.mkv", "-s", "style.json", "-o", "lossless.mkv", "--codec", "ffv1"],
             output: "lossless.mkv"),
        Case(name: "video-strength", arguments: ["video", "clip.mkv", "-s", "style.json", "--strength", "0.5", "-o", "strength.mp4"],
             output: "strength.mp4"),
        Case(name: "video-size", arguments: ["video", "clip.mkv", "-s", "style.json", "--size", "48", "-o", "size.mp4"], output: "size.mp4"),
        Case(name: "video-colors", arguments: ["video", "clip.mkv", "-s", "style.json", "--preserve-colors", "-o", "colors.mp4"],
             output: "colors.mp4"),
        Case(name: "video-per-frame", arguments: ["video", "clip.mkv", "-s", "style.json", "--no-stabilize", "-o", "per-frame.mp4"],
             output: "per-frame.mp4"),
        Case(name: "video-keyframes", arguments: ["video", "clip.mkv", "--keyframe", "0=style.json", "--keyframe", "#8=style_128.png@0.6",
                                                  "--ease", "smooth", "-o", "keyframes.mp4"], output: "keyframes.mp4"),
        Case(name: "video-fps", arguments: ["video", "clip.mkv", "-s", "style.json", "--fps", "6", "--no-audio", "-o", "fps.mp4"], output: "fps.mp4"),
        Case(name: "video-gif", arguments: ["video", "clip.mkv", "-s", "style.json", "--fps", "5", "--scale", "48x-1", "-o", "small.gif"],
             output: "small.gif"),
        Case(name: "video-cut", arguments: ["video", "clip.mkv", "-s", "style.json", "--start", "0.3", "--duration", "0.6", "-o", "cut.mkv"],
             output: "cut.mkv"),
        Case(name: "video-piece", arguments: ["video", "clip.mkv", "-s", "style.json", "--frames", "4..9", "-o", "piece.nut"], output: "piece.nut"),
        Case(name: "video-rotated", arguments: ["video", "rotated.mp4", "-s", "style.json", "-o", "rotated-out.mp4"], output: "rotated-out.mp4"),
        Case(name: "video-10bit", arguments: ["video", "clip10.mkv", "-s", "style.json", "-o", "10bit.mkv", "--codec", "ffv1"], output: "10bit.mkv"),
        Case(name: "video-filmstrip", arguments: ["video", "clip.mkv", "--keyframe", "0=style.json", "--keyframe", "1=style_128.png",
                                                  "--filmstrip", "strip.png", "--filmstrip-frames", "4", "-o", "strip.mp4"],
             output: "strip.mp4", also: ["strip.png"]),
        Case(name: "video-pipe", arguments: ["video", "-", "-s", "style.json", "--strength", "0.7", "-o", "-", "--format", "nut"],
             output: "pipe.nut", stdin: "clip.mkv", stdout: "pipe.nut"),
        Case(name: "frames-folder", arguments: ["frames", "frames", "-s", "style.json", "-o", "styled"], output: "styled"),
        Case(name: "frames-clip", arguments: ["frames", "frames/f_%03d.png", "-s", "style.json", "--fps", "10", "-o", "sequence.mp4"],
             output: "sequence.mp4"),
        Case(name: "image", arguments: ["image", "photo.png", "-s", "style.json", "-o", "image.png"], output: "image.png"),
        Case(name: "image-look", arguments: ["image", "photo.png", "-s", "style_128.png", "--strength", "0.6", "--preserve-colors",
                                             "--size", "64", "-o", "look.png"], output: "look.png"),
        Case(name: "sheet", arguments: ["sheet", "photo.png", "-s", "style.json", "-s", "style_128.png", "--strengths", "0.5,1",
                                        "-o", "sheet.png"], output: "sheet.png"),
    ]

    static let environment = GoldenManifest.environment

    func testOutputsMatchTheManifest() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try Self.makeInputs(in: dir)
        var digests: [String: String] = [:]
        for item in Self.cases {
            let quiet = ["video", "frames"].contains(item.arguments[0]) ? ["--quiet"] : []
            let arguments = item.arguments + ["--precision", "f32"] + quiet
            let outcome: TestSupport.Outcome
            if let stdin = item.stdin, let stdout = item.stdout {
                let command = ([TestSupport.executable.path] + arguments).map { "'\($0)'" }.joined(separator: " ") + " < \(stdin) > \(stdout)"
                outcome = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), ["-o", "pipefail", "-c", command], in: dir, environment: Self.environment)
            } else {
                outcome = try TestSupport.stylize(arguments, in: dir, environment: Self.environment)
            }
            XCTAssertEqual(outcome.status, 0, "\(item.name): \(outcome.stderr)")
            digests[item.name] = try item.outputs.map { try GoldenManifest.digest(of: dir.appendingPathComponent($0)) }.joined(separator: ",")
        }
        try GoldenManifest.compare(digests)
    }

    /// The inputs: a 1.2 s clip (96x64 at 10 fps, FFV1, a tone in PCM), the same in 10-bit, a
    /// clip a player turns by 90 degrees, frames as PNGs in a folder, a photo, the fixture style
    /// as a vector file and as a picture. Lossless codecs only (x264 at qp 0 on one thread for
    /// the turned clip, which needs MP4), so the inputs are the same wherever they are made.
    static func makeInputs(in dir: URL) throws {
        let clip = dir.appendingPathComponent("clip.mkv").path
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1.2", "-f", "lavfi",
                                        "-i", "sine=frequency=440:duration=1.2:sample_rate=48000", "-c:v", "ffv1", "-pix_fmt", "yuv420p",
                                        "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-flags:v", "+bitexact", clip])
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1.2", "-c:v", "ffv1",
                                        "-pix_fmt", "yuv420p10le", "-fflags", "+bitexact", "-flags:v", "+bitexact", dir.appendingPathComponent("clip10.mkv").path])
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=0.8", "-c:v", "libx264",
                                        "-qp", "0", "-threads", "1", "-pix_fmt", "yuv420p", "-fflags", "+bitexact",
                                        "-flags:v", "+bitexact", dir.appendingPathComponent("rotated.mp4").path])
        try TestSupport.turnMP4(dir.appendingPathComponent("rotated.mp4"))
        let frames = dir.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=80x48:rate=10:duration=0.6",
                                        frames.appendingPathComponent("f_%03d.png").path])
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=120x90", "-frames:v", "1",
                                        dir.appendingPathComponent("photo.png").path])
        for (name, fixture) in [("style.json", "style_256.json"), ("style_128.png", "style_128.png")] {
            try FileManager.default.copyItem(at: TestSupport.fixture(fixture), to: dir.appendingPathComponent(name))
        }
    }
}
