import Foundation
import XCTest
@testable import StylizeKit

/// What an ffmpeg user asks of the output: its codec in every container, frame rate, size, part,
/// audio, and refusals of options the chosen encoder would ignore. Checked with ffprobe, and
/// frame rates against ffmpeg's own fps filter.
final class OutputChoiceTests: XCTestCase {
    var style: String { get throws { TestSupport.styleVectorFile.path } }

    /// A 160x90 cut of the sample clip with its audio: 2 s, 50 frames at 25 fps.
    func clip(_ dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("clip.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", VideoTests.sample.path, "-t", "2", "-vf", "scale=160:90",
                                        "-c:v", "libx264", "-crf", "20", "-c:a", "copy", url.path])
        return url
    }

    func probe(_ url: URL, _ entries: String, stream: String = "v:0") throws -> [String] {
        try TestSupport.tool("ffprobe", ["-v", "error", "-select_streams", stream, "-count_frames", "-show_entries", "stream=" + entries,
                                         "-of", "default=nw=1:nk=1", url.path]).split(whereSeparator: \.isNewline).map(String.init)
    }

    func stylize(_ arguments: [String]) throws {
        let ran = try TestSupport.stylize(arguments + ["--quiet"])
        XCTAssertEqual(ran.status, 0, "\(arguments): \(ran.stderr)")
    }

    func testEveryContainerGetsAModernCodecAndIgnoredOptionsAreRefused() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        // AVI and NUT name MPEG-4 Part 2 as their default; H.264 goes there, as into MP4.
        let avi = dir.appendingPathComponent("out.avi")
        try stylize(["video", input.path, "-s", try style, "-o", avi.path])
        XCTAssertEqual(try probe(avi, "codec_name"), ["h264"])
        let piped = dir.appendingPathComponent("piped.nut")
        let command = "'\(TestSupport.executable.path)' video '\(input.path)' -s '\(try style)' -o - --format nut --quiet > '\(piped.path)'"
        let ran = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), ["-o", "pipefail", "-c", command])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(try probe(piped, "codec_name"), ["h264"])
        // MPEG-TS keeps no list of codecs FFmpeg could ask; its default is MPEG-2, and H.264 goes
        // there too, named or not.
        for extra in [[], ["--codec", "libx264"]] {
            let ts = dir.appendingPathComponent("out\(extra.count).ts")
            try stylize(["video", input.path, "-s", try style, "-o", ts.path] + extra)
            XCTAssertEqual(try probe(ts, "codec_name").first, "h264", "MPEG-TS lists its stream once per program too")
        }
        // --crf now reaches the encoder: a lower CRF makes a larger file.
        let fine = dir.appendingPathComponent("fine.avi")
        try stylize(["video", input.path, "-s", try style, "-o", fine.path, "--crf", "5"])
        XCTAssertGreaterThan(try Data(contentsOf: fine).count, try Data(contentsOf: avi).count * 3 / 2)
        // Encoders without a constant-quality setting refuse --crf instead of ignoring it.
        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("lossless.mkv").path,
                         "--codec", "ffv1", "--crf", "5"], in: dir, saying: "no constant-quality setting")
        // VP9 takes the preset names, mapped onto libvpx's deadline and cpu-used.
        let webm = dir.appendingPathComponent("out.webm")
        try stylize(["video", input.path, "-s", try style, "-o", webm.path, "--preset", "fast"])
        XCTAssertEqual(try probe(webm, "codec_name,nb_read_frames"), ["vp9", "50"])
        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("bad.webm").path, "--preset", "placebo"],
                        in: dir, saying: "libvpx-vp9 takes --preset ultrafast")
    }

    func testFrameRatesMatchFFmpegsFpsFilter() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        for (rate, extra) in [("10", [String]()), ("60", ["--duration", "0.5"]), ("30000/1001", []), ("12", ["--start", "0.5", "--to", "1.5"])] {
            let output = dir.appendingPathComponent("r\(rate.replacingOccurrences(of: "/", with: "_")).mp4")
            try stylize(["video", input.path, "-s", try style, "-o", output.path, "--fps", rate] + extra)
            var reference = ["-v", "error"]
            if let start = extra.firstIndex(of: "--start") { reference += ["-ss", extra[start + 1]] }
            reference += ["-i", input.path]
            if let duration = extra.firstIndex(of: "--duration") { reference += ["-t", extra[duration + 1]] }
            if let to = extra.firstIndex(of: "--to") { reference += ["-t", String(Double(extra[to + 1])! - 0.5)] }
            let counted = try TestSupport.tool("ffmpeg", reference + ["-an", "-vf", "fps=\(rate)", "-f", "framemd5", "-"])
                .split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("#") }.count
            let got = try probe(output, "r_frame_rate,nb_read_frames")
            XCTAssertEqual(got.first, rate.contains("/") ? rate : "\(rate)/1", "\(rate) \(extra)")
            XCTAssertEqual(Double(got.last ?? "") ?? 0, Double(counted), accuracy: 1, "frames at \(rate) \(extra): ffmpeg's fps filter gives \(counted)")
        }
        // --to is the end of the part: the same frames as the duration it implies.
        let to = dir.appendingPathComponent("to.mp4"), duration = dir.appendingPathComponent("duration.mp4")
        try stylize(["video", input.path, "-s", try style, "-o", to.path, "--start", "0.4", "--to", "1.2"])
        try stylize(["video", input.path, "-s", try style, "-o", duration.path, "--start", "0.4", "--duration", "0.8"])
        XCTAssertEqual(try probe(to, "nb_read_frames"), try probe(duration, "nb_read_frames"))
        XCTAssertEqual(try probe(to, "nb_read_frames"), ["20"])
    }

    func testOutputSizeAndAudioChoices() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let small = dir.appendingPathComponent("small.mkv")
        try stylize(["video", input.path, "-s", try style, "-o", small.path, "--scale", "96x-1", "--audio-codec", "libopus", "--audio-bitrate", "48k"])
        XCTAssertEqual(try probe(small, "width,height"), ["96", "54"])
        XCTAssertEqual(try probe(small, "codec_name", stream: "a:0"), ["opus"])
        let exact = dir.appendingPathComponent("exact.mp4")
        try stylize(["video", input.path, "-s", try style, "-o", exact.path, "--scale", "128:128", "--audio-bitrate", "64k"])
        XCTAssertEqual(try probe(exact, "width,height"), ["128", "128"])
        let bits = Double(try probe(exact, "bit_rate", stream: "a:0").first ?? "") ?? 0
        XCTAssertEqual(bits, 64000, accuracy: 12000, "the AAC stream's bit rate")

        let silent = dir.appendingPathComponent("silent.mp4")
        try stylize(["video", input.path, "-s", try style, "-o", silent.path, "--no-audio"])
        XCTAssertEqual(try probe(silent, "codec_type", stream: "a"), [])
        // GIF holds no audio: it is left out with a note, not refused.
        let gif = dir.appendingPathComponent("out.gif")
        let ran = try TestSupport.stylize(["video", input.path, "-s", try style, "-o", gif.path, "--fps", "10", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertTrue(ran.stdout.contains("gif holds no audio"), ran.stdout)
        XCTAssertEqual(try probe(gif, "codec_name,nb_read_frames"), ["gif", "20"])

        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("x.mp4").path, "--no-audio", "--audio-codec", "aac"],
                        in: dir, saying: "--no-audio goes without")
        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("x.mp4").path, "--audio-codec", "nonesuch"],
                        in: dir, saying: "no audio encoder named nonesuch")
        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("x.mp4").path, "--scale", "0x0"],
                        in: dir, saying: "bad size")
        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("x.mp4").path, "--fps", "fast"],
                        in: dir, saying: "bad frame rate")
        try assertFails(["video", input.path, "-s", try style, "-o", dir.appendingPathComponent("x.mp4").path, "--frames", "0..10", "--no-audio"],
                        in: dir, saying: "audio options go with whole clips")
    }

    /// --scale is the size a player shows: a clip stored turned keeps its frames turned in MP4
    /// (a rotation tag) and is turned into the pixels in Matroska, both shown at the size asked.
    func testScaleIsTheShownSizeOfATurnedClip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let turned = dir.appendingPathComponent("turned.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", try clip(dir).path, "-c", "copy", "-metadata:s:v:0", "rotate=90", turned.path])
        let mp4 = dir.appendingPathComponent("out.mp4"), mkv = dir.appendingPathComponent("out.mkv")
        try stylize(["video", turned.path, "-s", try style, "-o", mp4.path, "--scale", "64x-1"])
        try stylize(["video", turned.path, "-s", try style, "-o", mkv.path, "--scale", "64x-1"])
        XCTAssertEqual(try probe(mp4, "width,height"), ["114", "64"], "stored turned, shown 64x114")
        XCTAssertEqual(try probe(mkv, "width,height"), ["64", "114"])
    }

    /// Frame indices in keyframes count the input's frames, also at another output rate.
    func testFrameIndexKeyframesStayOnTheInputsFramesAtAnotherRate() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let keys = ["--keyframe", "#0=starry-night", "--keyframe", "#25=great-wave", "--no-stabilize", "--crf", "5"]
        let own = dir.appendingPathComponent("own.mkv"), ten = dir.appendingPathComponent("ten.mkv")
        try stylize(["video", input.path, "-o", own.path] + keys)
        try stylize(["video", input.path, "-o", ten.path, "--fps", "10"] + keys)
        // Tick 10 (1 s) at 10 fps shows input frame 26 (1.04 s), the last one nearest the tick,
        // as ffmpeg's fps filter picks it: past #25 (1 s), both carry great-wave in full there.
        let a = dir.appendingPathComponent("a.png"), b = dir.appendingPathComponent("b.png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", own.path, "-vf", "select=eq(n\\,26)", "-frames:v", "1", a.path])
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", ten.path, "-vf", "select=eq(n\\,10)", "-frames:v", "1", b.path])
        XCTAssertGreaterThan(try Picture(contentsOf: a).rgbImage.psnr(try Picture(contentsOf: b).rgbImage), 35)
    }

    func testVersionNamesTheLibraries() throws {
        let ran = try TestSupport.stylize(["--version"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertTrue(ran.stdout.hasPrefix("stylize \(StylizeKitVersion.string)"), ran.stdout)
        XCTAssertTrue(ran.stdout.contains("FFmpeg") && ran.stdout.contains("oneDNN"), ran.stdout)
    }
}
