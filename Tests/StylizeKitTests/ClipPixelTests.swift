import Foundation
import XCTest
@testable import StylizeKit

/// The pixels of stylized clips: each output frame must be what `stylize image` makes of the
/// same input frame with the style the clip's options call for at that frame's time. Clips are
/// lossless RGB (libx264rgb at CRF 0) on both sides and stabilization is off, so the only
/// difference left is how each path rounds the network's floats to 8 bits.
final class ClipPixelTests: XCTestCase {
    /// Both paths run the same network on the same floats: anything below this is a real difference.
    static let samePixels = 45.0
    static let lossless = ["--codec", "libx264rgb", "--crf", "0", "--no-stabilize", "--precision", "f32"]

    var style: URL { get throws { TestSupport.styleVectorFile } }

    /// `frames` frames of a moving test pattern at 10 fps, `width` x `height`, lossless RGB,
    /// with `audio` (an ffmpeg lavfi source) as PCM when given.
    func clip(_ dir: URL, frames: Int, width: Int = 64, height: Int = 48, audio: String? = nil) throws -> URL {
        let url = dir.appendingPathComponent("in.mkv")
        var arguments = ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(width)x\(height):rate=10"]
        if let audio { arguments += ["-f", "lavfi", "-i", audio, "-c:a", "pcm_s16le"] }
        arguments += ["-frames:v", "\(frames)", "-c:v", "libx264rgb", "-crf", "0", "-shortest", url.path]
        try TestSupport.tool("ffmpeg", arguments)
        return url
    }

    func stylizeClip(_ input: URL, _ arguments: [String], _ dir: URL) throws -> URL {
        let out = dir.appendingPathComponent("out-\(UUID().uuidString).mkv")
        let ran = try TestSupport.stylize(["video", input.path, "-o", out.path] + Self.lossless + arguments)
        XCTAssertEqual(ran.status, 0, ran.stderr)
        return out
    }

    /// Asserts that frame `index` of `output` is `expected` (PSNR at least `samePixels`).
    func assertFrame(_ output: URL, _ index: Int, is expected: RGBImage, _ what: String, _ dir: URL,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let got = try picture(try framePNG(output, index, dir))
        let psnr = got.psnr(expected)
        print("\(what): frame \(index) vs still \(String(format: "%.1f", psnr)) dB")
        XCTAssertGreaterThanOrEqual(psnr, Self.samePixels, "\(what): frame \(index) is not the stylized still", file: file, line: line)
    }

    func testEveryFrameIsTheStylizedInputFrame() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 10)
        let output = try stylizeClip(input, ["-s", try style.path], dir)
        for index in [0, 4, 9] {
            let frame = try framePNG(input, index, dir)
            try assertFrame(output, index, is: try still(frame, style: try style.path, [], dir), "constant style", dir)
            // And a stylized frame is far from the input: a pass-through fails here as well.
            XCTAssertLessThan(try picture(try framePNG(output, index, dir)).psnr(try picture(frame)), 25)
        }
    }

    /// Keyframes at 0 s and 1 s: the ends are the two styles; at 0.2 s the mix is the eased
    /// weight of the second style (linear 0.2, smooth 3u^2 - 2u^3 = 0.104), and the two easings differ.
    /// 4:2:0 in (8 and 10 bits) and 8-bit 4:2:0 out, the common case, where the network
    /// converts colours itself (`YUV420Conversion`). Chroma subsampling blurs stylized texture far
    /// more than rounding does, so the frames are compared in luma: each output frame's luma
    /// plane against the luma of `stylize image` of the input frame (swscale's conversion on that
    /// side). The clip is tagged with centred chroma, as swscale makes and reads it; a
    /// quarter-pixel shift of this pattern's saturated edges alone moves the network's output to
    /// about 33 dB. int8 too, whose first gather writes the picture's bytes from the planes: its
    /// rounded statistics make any difference in the input bytes (here the two paths' colour
    /// conversions) spread, so its bound is lower (measured 27.7-28.2 dB, about the distance of
    /// int8 from f32 on the fixtures), and the frame must still be far from the input's.
    func testFourTwoZeroFramesAreTheStylizedInputFrames() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (width, height) = (64, 48)
        // int8 where this CPU runs it (it needs VNNI; elsewhere it is refused, see ModelFidelityTests).
        let cases = [("yuv420p", "f32"), ("yuv420p10le", "f32")] + (Precision.cpuHasVNNI ? [("yuv420p", "int8")] : [])
        if !Precision.cpuHasVNNI { print("4:2:0 int8 not run: this CPU has no VNNI") }
        for (format, precision) in cases {
            let input = dir.appendingPathComponent("in-\(format)-\(precision).mkv")
            try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(width)x\(height):rate=10", "-frames:v", "6",
                                            "-c:v", "libx264", "-crf", "0", "-pix_fmt", format, "-chroma_sample_location", "center", input.path])
            let reader = try VideoReader(path: input.path, formatName: nil, start: nil, duration: nil)
            guard case .frame(let decoded, _) = try XCTUnwrap(try reader.next()) else { return XCTFail("no frame in \(input.path)") }
            XCTAssertNotNil(YUV420Conversion(of: decoded), "\(format) goes to the network as it is")
            let output = dir.appendingPathComponent("out-\(format)-\(precision).mkv")
            let ran = try TestSupport.stylize(["video", input.path, "-o", output.path, "-s", try style.path, "--crf", "0", "--no-stabilize",
                                               "--precision", precision])
            XCTAssertEqual(ran.status, 0, ran.stderr)
            /// The luma planes of every frame of `url`, as decoded (8 bits).
            func lumas(_ url: URL) throws -> [[UInt8]] {
                let raw = dir.appendingPathComponent(url.lastPathComponent + ".yuv")
                try TestSupport.tool("ffmpeg", ["-v", "error", "-y", "-i", url.path, "-f", "rawvideo", "-pix_fmt", "yuv420p", raw.path])
                let bytes = [UInt8](try Data(contentsOf: raw)), frameBytes = width * height * 3 / 2
                return stride(from: 0, to: bytes.count, by: frameBytes).map { Array(bytes[$0..<$0 + width * height]) }
            }
            let (stylized, original) = (try lumas(output), try lumas(input))
            XCTAssertEqual(stylized.count, 6)
            func psnr(_ a: [Float], _ b: [Float]) -> Double {
                let mse = zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(a.count)
                return 10 * log10(219 * 219 / mse)
            }
            for index in [0, 5] {
                // The clip is untagged and below 720 lines: BT.601, limited range.
                let still = try self.still(try framePNG(input, index, dir), style: try style.path, [], dir, precision: precision)
                let expected = (0..<width * height).map { i -> Float in
                    let (r, g, b) = (still.pixels[3 * i], still.pixels[3 * i + 1], still.pixels[3 * i + 2])
                    return 16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b)
                }
                let got = stylized[index].map(Float.init)
                let same = psnr(got, expected), passedThrough = psnr(got, original[index].map(Float.init))
                print("4:2:0 \(format) \(precision): frame \(index) luma vs still \(String(format: "%.1f", same)) dB, vs the input frame \(String(format: "%.1f", passedThrough)) dB")
                XCTAssertGreaterThanOrEqual(same, precision == "int8" ? 24 : 36, "\(format) \(precision): frame \(index) is not the stylized still")
                XCTAssertLessThan(passedThrough, 25, "\(format): frame \(index) is too close to the input")
            }
        }
    }

    func testKeyframesMixStylesByEasedTime() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 12)
        let (a, b) = (try style.path, try secondStyle(dir).path)
        let keys = ["--keyframe", "0=\(a)", "--keyframe", "1=\(b)"]
        let linear = try stylizeClip(input, keys + ["--ease", "linear"], dir)
        let smooth = try stylizeClip(input, keys + ["--ease", "smooth"], dir)
        let (f0, f2, f10) = (try framePNG(input, 0, dir), try framePNG(input, 2, dir), try framePNG(input, 10, dir))
        try assertFrame(linear, 0, is: try still(f0, style: a, [], dir), "keyframe 0", dir)
        try assertFrame(linear, 10, is: try still(f10, style: b, [], dir), "keyframe 1 s", dir)
        try assertFrame(smooth, 10, is: try still(f10, style: b, [], dir), "keyframe 1 s, smooth", dir)
        try assertFrame(linear, 2, is: try still(f2, style: "\(a):0.8,\(b):0.2", [], dir), "linear at 0.2 s", dir)
        try assertFrame(smooth, 2, is: try still(f2, style: "\(a):0.896,\(b):0.104", [], dir), "smooth at 0.2 s", dir)
        let differ = try picture(try framePNG(linear, 2, dir)).psnr(try picture(try framePNG(smooth, 2, dir)))
        XCTAssertLessThan(differ, Self.samePixels, "linear and smooth easing give the same frame at 0.2 s")
    }

    /// `--strength 0.5` on a clip blends towards the clip's own vector (from frames spread over
    /// it), not each frame's.
    func testStrengthBlendsTowardsTheClipsOwnVector() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 10)
        let output = try stylizeClip(input, ["-s", try style.path, "--strength", "0.5"], dir)
        let identity = try VideoStylizer(stylizer: stylizer, options: JobOptions()).identityVector(of: input.path)
        let half = try StyleVectorFile.read(try style).blended(towards: identity, strength: 0.5)
        let halfFile = dir.appendingPathComponent("half.json")
        try StyleVectorFile(vector: half, source: "test").write(to: halfFile, overwrite: false)
        for index in [0, 9] {
            try assertFrame(output, index, is: try still(try framePNG(input, index, dir), style: halfFile.path, [], dir), "strength 0.5", dir)
        }
    }

    /// `--size` runs the network at that shorter side and scales back, like `stylize image --size`.
    func testSizeMatchesStillsAtTheSameSize() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 4)
        let output = try stylizeClip(input, ["-s", try style.path, "--size", "32"], dir)
        let frame = try framePNG(input, 3, dir)
        try assertFrame(output, 3, is: try still(frame, style: try style.path, ["--size", "32"], dir), "--size 32", dir)
    }

    /// `--start 2`: the first frame out is the input's frame at 2 s, and the audio starts there
    /// too (a tone that jumps from 440 to 880 Hz at 2 s).
    func testStartCutsVideoAndAudioAtTheSameTime() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, frames: 40, audio: "aevalsrc=sin(2*PI*if(lt(t\\,2)\\,440\\,880)*t):s=48000:d=4")
        let output = try stylizeClip(input, ["-s", try style.path, "--start", "2", "--duration", "1"], dir)
        try assertFrame(output, 0, is: try still(try framePNG(input, 20, dir), style: try style.path, [], dir), "--start 2", dir)
        let zero = try still(try framePNG(input, 0, dir), style: try style.path, [], dir)
        XCTAssertLessThan(try picture(try framePNG(output, 0, dir)).psnr(zero), Self.samePixels, "the cut starts at frame 0")
        // Zero crossings of the first 0.5 s of audio: 880 Hz gives about 880.
        let pcm = dir.appendingPathComponent("audio.raw")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", output.path, "-map", "0:a:0", "-t", "0.5", "-ac", "1", "-ar", "48000",
                                        "-f", "s16le", pcm.path])
        let samples = try Data(contentsOf: pcm).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        XCTAssertEqual(samples.count, 24000, accuracy: 500)
        let crossings = zip(samples, samples.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        XCTAssertEqual(Double(crossings), 880, accuracy: 60, "the audio after the cut is the 880 Hz part")
    }
}
