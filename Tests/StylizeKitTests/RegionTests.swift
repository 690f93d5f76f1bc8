import Foundation
import XCTest
@testable import StylizeKit

/// Regions: a mask decides where the style goes. Clips are lossless 4:2:0 (FFV1) on both sides
/// with the stabilizer off, so that inside the mask a frame must be the unmasked stylized frame
/// and outside it the original (or the outside style's frame), sample for sample.
final class RegionTests: XCTestCase {
    static let (width, height) = (128, 96)
    static let lossless = ["--codec", "ffv1", "--no-stabilize", "--precision", "f32", "-s", TestSupport.styleVectorFile.path]
    /// Both sides of a comparison come from the same network on the same floats.
    static let samePixels = 45.0

    /// `seconds` of a moving test pattern at 10 fps, lossless 4:2:0, with `overlay` (a lavfi
    /// source drawn over its left half) when given.
    func clip(_ dir: URL, seconds: Double = 1, overlay: String? = nil) throws -> URL {
        let url = dir.appendingPathComponent("in.mkv")
        let size = "\(Self.width)x\(Self.height)"
        var graph = "testsrc2=size=\(size):rate=10:duration=\(seconds)"
        if let overlay { graph += "[a];\(overlay):size=\(Self.width / 2)x\(Self.height):rate=10:duration=\(seconds)[b];[a][b]overlay=0:0" }
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", graph, "-c:v", "ffv1", "-pix_fmt", "yuv420p", url.path])
        return url
    }

    /// A still mask: white right of `edge` (a column), black left of it, at `width` x `height`.
    func halfMask(_ dir: URL, edge: Int = RegionTests.width / 2, width: Int = RegionTests.width, height: Int = RegionTests.height,
                  name: String = "mask.png") throws -> URL {
        let url = dir.appendingPathComponent(name)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "color=black:size=\(width)x\(height)",
                                        "-vf", "drawbox=x=\(edge):y=0:w=\(width - edge):h=\(height):color=white:t=fill", "-frames:v", "1", url.path])
        return url
    }

    func stylize(_ input: URL, _ arguments: [String], _ dir: URL) throws -> (url: URL, stdout: String) {
        let out = dir.appendingPathComponent("out-\(UUID().uuidString).mkv")
        let ran = try TestSupport.stylize(["video", input.path, "-o", out.path, "--json"] + Self.lossless + arguments)
        XCTAssertEqual(ran.status, 0, ran.stderr)
        return (out, ran.stdout)
    }

    /// Every frame's luma plane.
    func lumas(_ url: URL, _ dir: URL) throws -> [[UInt8]] {
        let raw = dir.appendingPathComponent("\(UUID().uuidString).gray")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", url.path, "-f", "rawvideo", "-pix_fmt", "gray", raw.path])
        let bytes = [UInt8](try Data(contentsOf: raw))
        let size = Self.width * Self.height
        return stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }

    /// PSNR of two luma planes over the columns in `columns`.
    func psnr(_ a: [UInt8], _ b: [UInt8], columns: Range<Int>) -> Double {
        var sum = 0.0, count = 0.0
        for y in 0..<Self.height {
            for x in columns {
                let d = Double(a[y * Self.width + x]) - Double(b[y * Self.width + x])
                sum += d * d
                count += 1
            }
        }
        return sum == 0 ? 99 : 10 * log10(255 * 255 / (sum / count))
    }

    var left: Range<Int> { 0..<(Self.width / 2 - 3) }
    var right: Range<Int> { (Self.width / 2 + 3)..<Self.width }

    func testAHalfMaskKeepsTheStyleInsideAndTheOriginalOutside() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let masked = try lumas(stylize(input, ["--mask", halfMask(dir).path], dir).url, dir)
        let full = try lumas(stylize(input, [], dir).url, dir)
        let original = try lumas(input, dir)
        XCTAssertEqual(masked.count, 10)
        for i in masked.indices {
            XCTAssertGreaterThanOrEqual(psnr(masked[i], full[i], columns: right), Self.samePixels, "frame \(i) inside")
            XCTAssertGreaterThanOrEqual(psnr(masked[i], original[i], columns: left), Self.samePixels, "frame \(i) outside")
            // Across the feathered band, each pixel's share of the style grows from left to right.
            for y in 0..<Self.height {
                var last = -0.05
                for x in (Self.width / 2 - 4)..<(Self.width / 2 + 4) {
                    let k = y * Self.width + x
                    let span = Double(full[i][k]) - Double(original[i][k])
                    guard abs(span) >= 24 else { continue }
                    let share = (Double(masked[i][k]) - Double(original[i][k])) / span
                    XCTAssertGreaterThanOrEqual(share, last - 0.05, "frame \(i) row \(y): the band is not monotone at column \(x)")
                    last = max(last, share)
                }
            }
        }
        // With the feather at 0 the band is gone: one column from the edge is already inside or outside.
        let hard = try lumas(stylize(input, ["--mask", halfMask(dir).path, "--mask-feather", "0"], dir).url, dir)
        XCTAssertGreaterThanOrEqual(psnr(hard[0], full[0], columns: (Self.width / 2)..<Self.width), Self.samePixels)
        XCTAssertGreaterThanOrEqual(psnr(hard[0], original[0], columns: 0..<(Self.width / 2)), Self.samePixels)
    }

    /// A palette picture (as many tools save black-and-white masks) gives its brightness, like
    /// the same mask in RGB.
    func testAPaletteMaskGivesItsBrightness() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.2)
        let rgb = try halfMask(dir), palette = dir.appendingPathComponent("palette.png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", rgb.path, "-pix_fmt", "pal8", palette.path])
        XCTAssertTrue(try TestSupport.tool("ffprobe", ["-v", "error", "-show_entries", "stream=pix_fmt", "-of", "csv=p=0", palette.path]).contains("pal8"))
        let fromPalette = try lumas(stylize(input, ["--mask", palette.path], dir).url, dir)
        let fromRGB = try lumas(stylize(input, ["--mask", rgb.path], dir).url, dir)
        for i in fromPalette.indices {
            XCTAssertGreaterThanOrEqual(psnr(fromPalette[i], fromRGB[i], columns: 0..<Self.width), Self.samePixels, "frame \(i)")
        }
    }

    /// A mask picture with an alpha channel that is opaque everywhere (as many tools save a
    /// black-and-white mask) gives its brightness; one whose alpha is used gives its alpha.
    func testAnOpaqueAlphaGivesTheBrightnessAndAUsedAlphaCounts() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.2)
        let rgb = try halfMask(dir), opaque = dir.appendingPathComponent("opaque.png"), cutOut = dir.appendingPathComponent("alpha.png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", rgb.path, "-pix_fmt", "rgba", opaque.path])
        // White everywhere; opaque on the left half only, so the alpha puts the style there.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=white:size=\(Self.width)x\(Self.height)", "-frames:v", "1",
                                        "-vf", "format=rgba,geq=r=255:g=255:b=255:a='if(lt(X,\(Self.width / 2)),255,0)'", cutOut.path])
        for picture in [opaque, cutOut] {
            XCTAssertTrue(try TestSupport.tool("ffprobe", ["-v", "error", "-show_entries", "stream=pix_fmt", "-of", "csv=p=0", picture.path]).contains("rgba"))
        }
        let fromRGB = try lumas(stylize(input, ["--mask", rgb.path], dir).url, dir)
        let fromOpaque = try lumas(stylize(input, ["--mask", opaque.path], dir).url, dir)
        let fromAlpha = try lumas(stylize(input, ["--mask", cutOut.path], dir).url, dir)
        let leftOfRGB = try lumas(stylize(input, ["--mask", rgb.path, "--mask-invert"], dir).url, dir)
        for i in fromRGB.indices {
            XCTAssertGreaterThanOrEqual(psnr(fromOpaque[i], fromRGB[i], columns: 0..<Self.width), Self.samePixels, "frame \(i): opaque alpha")
            XCTAssertGreaterThanOrEqual(psnr(fromAlpha[i], leftOfRGB[i], columns: 0..<Self.width), Self.samePixels, "frame \(i): the alpha counts")
        }
    }

    /// A phone's portrait clip keeps its pixels stored turned (MP4 tags the rotation): a mask
    /// drawn upright, as the clip is shown, is turned to them.
    func testAnUprightMaskFollowsAClipsRotation() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("turned.mp4"), out = dir.appendingPathComponent("out.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=10:duration=0.3", "-c:v", "libx264", "-qp", "0",
                                        "-pix_fmt", "yuv420p", input.path])
        try TestSupport.turnMP4(input)
        // Shown 96x128: the style on the top half.
        let mask = try halfMask(dir, edge: 0, width: 96, height: 128, name: "upright.png")
        let top = dir.appendingPathComponent("top.png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", mask.path, "-vf", "crop=96:64:0:0,pad=96:128:0:0", top.path])
        let ran = try TestSupport.stylize(["video", input.path, "-o", out.path, "-s", TestSupport.styleVectorFile.path, "--crf", "0",
                                           "--no-stabilize", "--precision", "f32", "--mask", top.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        // Decoded as a player shows them (ffmpeg turns by the tag): 96 across, 128 down.
        func shown(_ url: URL) throws -> [UInt8] {
            let raw = dir.appendingPathComponent("\(UUID().uuidString).gray")
            try TestSupport.tool("ffmpeg", ["-v", "error", "-i", url.path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", raw.path])
            return [UInt8](try Data(contentsOf: raw))
        }
        let painted = try shown(out), original = try shown(input)
        XCTAssertEqual(painted.count, 96 * 128)
        func psnr(rows: Range<Int>) -> Double {
            let pairs = rows.flatMap { y in (0..<96).map { (Double(painted[y * 96 + $0]), Double(original[y * 96 + $0])) } }
            let mse = pairs.reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(pairs.count)
            return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
        }
        XCTAssertGreaterThanOrEqual(psnr(rows: 67..<128), Self.samePixels, "the bottom half as shown is the original")
        XCTAssertLessThan(psnr(rows: 0..<61), 30, "the top half as shown is stylized")
    }

    func testInvertAndASecondStyleFillTheOutside() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.3)
        let second = try secondStyle(dir)
        let masked = try lumas(stylize(input, ["--mask", halfMask(dir).path, "--mask-invert", "--outside", second.path], dir).url, dir)
        let first = try lumas(stylize(input, [], dir).url, dir)
        let other = try lumas(stylize(input, ["-s", second.path], dir).url, dir)
        for i in masked.indices {
            XCTAssertGreaterThanOrEqual(psnr(masked[i], first[i], columns: left), Self.samePixels, "frame \(i): inverted, the style is on the left")
            XCTAssertGreaterThanOrEqual(psnr(masked[i], other[i], columns: right), Self.samePixels, "frame \(i): the outside style on the right")
        }
    }

    /// A mask that moves over still content (a wipe), stabilized: each painted layer is steadied
    /// on its own and the blend comes after, so what the mask has left holds no trail of the style,
    /// and what it covers is the stabilized style.
    func testAMovingMaskLeavesNoTrailWhenStabilized() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = dir.appendingPathComponent("still.mkv"), wipe = dir.appendingPathComponent("wipe.mkv")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-loop", "1", "-i", TestSupport.fixture("content_96x96.png").path, "-t", "1", "-r", "10",
                                        "-vf", "scale=\(Self.width):\(Self.height),format=yuv420p", "-c:v", "ffv1", input.path])
        // White right of a column that moves 8 pixels a frame.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i",
                                        "color=black:size=\(Self.width)x\(Self.height):rate=10:duration=1[b];color=white:size=\(Self.width)x\(Self.height):rate=10:duration=1[w];[b][w]overlay=x='t*80':y=0",
                                        "-c:v", "ffv1", "-pix_fmt", "yuv420p", wipe.path])
        let stabilized = ["--stabilize", "0.7"]
        let masked = try lumas(stylize(input, ["--mask", wipe.path] + stabilized, dir).url, dir)
        let full = try lumas(stylize(input, stabilized, dir).url, dir)
        let original = try lumas(input, dir)
        for i in 1..<masked.count {
            let edge = i * 8
            if edge > 4 {
                XCTAssertGreaterThanOrEqual(psnr(masked[i], original[i], columns: 0..<(edge - 3)), Self.samePixels, "frame \(i): a trail behind the mask")
            }
            XCTAssertGreaterThanOrEqual(psnr(masked[i], full[i], columns: (edge + 3)..<Self.width), Self.samePixels, "frame \(i): the stabilized style inside")
        }
    }

    func testAMaskClipAtAnotherRateAndSizeIsMatchedByTime() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        // 5 fps at half the size: the style is on the right until 0.6 s, on the left from then on.
        let mask = dir.appendingPathComponent("mask.mkv")
        let half = { (x: Int, seconds: Double) in "color=black:size=64x48:rate=5:duration=\(seconds),drawbox=x=\(x):y=0:w=32:h=48:color=white:t=fill" }
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "\(half(32, 0.6))[a];\(half(0, 0.4))[b];[a][b]concat",
                                        "-c:v", "ffv1", "-pix_fmt", "yuv420p", mask.path])
        let ran = try stylize(input, ["--mask", mask.path], dir)
        let masked = try lumas(ran.url, dir)
        let original = try lumas(input, dir)
        for i in masked.indices {
            let outside = i < 6 ? left : right
            XCTAssertGreaterThanOrEqual(psnr(masked[i], original[i], columns: outside), Self.samePixels, "frame \(i) at \(Double(i) / 10) s")
            XCTAssertLessThan(psnr(masked[i], original[i], columns: i < 6 ? right : left), 30, "frame \(i): the style is on the other side")
        }
        XCTAssertFalse(ran.stdout.contains("holds"), "a mask as long as the clip holds nothing: \(ran.stdout)")
    }

    func testAShorterMaskClipHoldsItsLastFrameAndSaysSo() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let mask = dir.appendingPathComponent("short.mkv")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=black:size=128x96:rate=10:duration=0.4",
                                        "-vf", "drawbox=x=64:y=0:w=64:h=96:color=white:t=fill", "-c:v", "ffv1", "-pix_fmt", "yuv420p", mask.path])
        let ran = try stylize(input, ["--mask", mask.path], dir)
        let masked = try lumas(ran.url, dir)
        let original = try lumas(input, dir)
        XCTAssertGreaterThanOrEqual(psnr(masked[9], original[9], columns: left), Self.samePixels, "the last mask frame still holds")
        XCTAssertTrue(ran.stdout.contains("its last frame holds after that"), "a note in the summary: \(ran.stdout)")
    }

    func testAGreenScreenKeysToTheOutside() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.3, overlay: "color=green")
        let masked = try lumas(stylize(input, ["--mask", "key:green"], dir).url, dir)
        let full = try lumas(stylize(input, [], dir).url, dir)
        let original = try lumas(input, dir)
        for i in masked.indices {
            XCTAssertGreaterThanOrEqual(psnr(masked[i], original[i], columns: left), Self.samePixels, "frame \(i): the green half is the original")
            XCTAssertGreaterThanOrEqual(psnr(masked[i], original[i], columns: 0..<2), Self.samePixels, "frame \(i): the key reaches the left edge")
            XCTAssertGreaterThanOrEqual(psnr(masked[i], full[i], columns: right), Self.samePixels, "frame \(i): the pattern is stylized")
        }
    }

    func testAFrameSequenceTakesAMaskFolderByIndex() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let frames = dir.appendingPathComponent("frames"), masks = dir.appendingPathComponent("masks")
        for folder in [frames, masks] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(Self.width)x\(Self.height):rate=10", "-frames:v", "3",
                                        frames.appendingPathComponent("f%02d.png").path])
        // The style on the right for the first frame, on the left for the second; the third holds the second's.
        _ = try halfMask(masks, name: "m1.png")
        let leftMask = try halfMask(dir, edge: 0, name: "white.png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", leftMask.path, "-vf", "crop=\(Self.width / 2):\(Self.height):0:0,pad=\(Self.width):\(Self.height):0:0",
                                        masks.appendingPathComponent("m2.png").path])
        let out = dir.appendingPathComponent("out")
        let ran = try TestSupport.stylize(["frames", frames.path, "-o", out.path, "-s", TestSupport.styleVectorFile.path, "--no-stabilize",
                                           "--precision", "f32", "--mask", masks.path, "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertTrue(ran.stdout.contains("its last holds after that"), ran.stdout)
        for (i, name) in ["f01.png", "f02.png", "f03.png"].enumerated() {
            let original = try picture(frames.appendingPathComponent(name)), painted = try picture(out.appendingPathComponent(name))
            let outside = i == 0 ? left : right
            XCTAssertGreaterThanOrEqual(columns(painted, outside).psnr(columns(original, outside)), Self.samePixels, "\(name): the outside is the original")
            XCTAssertLessThan(columns(painted, i == 0 ? right : left).psnr(columns(original, i == 0 ? right : left)), 30, "\(name): the style is inside")
        }
    }

    /// The sequence's counterpart of `testAMovingMaskLeavesNoTrailWhenStabilized`: each painted
    /// layer is steadied on its own and blended after, so a wipe over still frames leaves no trail.
    func testAMovingMaskOverAFrameSequenceLeavesNoTrailWhenStabilized() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let frames = dir.appendingPathComponent("frames"), masks = dir.appendingPathComponent("masks")
        for folder in [frames, masks] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        try TestSupport.tool("ffmpeg", ["-v", "error", "-loop", "1", "-i", TestSupport.fixture("content_96x96.png").path, "-frames:v", "10",
                                        "-vf", "scale=\(Self.width):\(Self.height)", frames.appendingPathComponent("f%02d.png").path])
        // White right of a column that moves 8 pixels a frame.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i",
                                        "color=black:size=\(Self.width)x\(Self.height):rate=10:duration=1[b];color=white:size=\(Self.width)x\(Self.height):rate=10:duration=1[w];[b][w]overlay=x='t*80':y=0",
                                        "-frames:v", "10", "-pix_fmt", "gray", masks.appendingPathComponent("m%02d.png").path])
        func run(_ arguments: [String]) throws -> URL {
            let out = dir.appendingPathComponent("out-\(UUID().uuidString)")
            let ran = try TestSupport.stylize(["frames", frames.path, "-o", out.path, "-s", TestSupport.styleVectorFile.path, "--precision", "f32",
                                               "--stabilize", "0.7", "--json"] + arguments)
            XCTAssertEqual(ran.status, 0, ran.stderr)
            return out
        }
        let masked = try run(["--mask", masks.path]), full = try run([])
        for i in 1..<10 {
            let name = String(format: "f%02d.png", i + 1), edge = i * 8
            let original = try picture(frames.appendingPathComponent(name)), painted = try picture(masked.appendingPathComponent(name))
            if edge > 4 {
                XCTAssertGreaterThanOrEqual(columns(painted, 0..<(edge - 3)).psnr(columns(original, 0..<(edge - 3))), Self.samePixels,
                                            "\(name): a trail behind the mask")
            }
            let whole = try picture(full.appendingPathComponent(name))
            XCTAssertGreaterThanOrEqual(columns(painted, (edge + 3)..<Self.width).psnr(columns(whole, (edge + 3)..<Self.width)), Self.samePixels,
                                        "\(name): the stabilized style inside")
        }
    }

    func testALumaRangeTakesTheStyleWhereTheFrameIsBright() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        // Dark on the left (luma about 0.06), bright on the right (about 0.88).
        let input = dir.appendingPathComponent("in.mkv")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i",
                                        "color=0xE0E0E0:size=\(Self.width)x\(Self.height):rate=10:duration=0.3[r];color=0x101010:size=\(Self.width / 2)x\(Self.height):rate=10:duration=0.3[l];[r][l]overlay=0:0",
                                        "-c:v", "ffv1", "-pix_fmt", "yuv420p", input.path])
        let full = try lumas(stylize(input, [], dir).url, dir)
        let original = try lumas(input, dir)
        for (arguments, inside, outside) in [(["--mask", "luma:0.5-1"], right, left), (["--mask", "luma:0.5-1", "--mask-invert"], left, right)] {
            let masked = try lumas(stylize(input, arguments, dir).url, dir)
            XCTAssertEqual(masked.count, 3)
            for i in masked.indices {
                let case_ = "\(arguments.joined(separator: " ")), frame \(i)"
                XCTAssertGreaterThanOrEqual(psnr(masked[i], original[i], columns: outside), Self.samePixels, "\(case_): the original outside")
                XCTAssertGreaterThanOrEqual(psnr(masked[i], full[i], columns: inside), Self.samePixels, "\(case_): stylized inside")
                XCTAssertLessThan(psnr(masked[i], original[i], columns: inside), 30, "\(case_): the style shows inside")
            }
        }
    }

    func testOutsideKeyframesMoveTheOutsideBetweenStyles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let mask = try halfMask(dir)
        let masked = try lumas(stylize(input, ["--mask", mask.path, "--outside-keyframe", "0=great-wave", "--outside-keyframe", "0.9=the-scream"],
                                       dir).url, dir)
        let wave = try lumas(stylize(input, ["-s", "great-wave"], dir).url, dir)
        let scream = try lumas(stylize(input, ["-s", "the-scream"], dir).url, dir)
        let full = try lumas(stylize(input, [], dir).url, dir)
        XCTAssertEqual(masked.count, 10)
        XCTAssertGreaterThanOrEqual(psnr(masked[0], wave[0], columns: left), Self.samePixels, "the outside starts in the first keyframe's style")
        XCTAssertGreaterThanOrEqual(psnr(masked[9], scream[9], columns: left), Self.samePixels, "the outside ends in the last keyframe's style")
        XCTAssertLessThan(psnr(masked[9], wave[9], columns: left), 35, "the outside has moved away from the first style")
        for i in [0, 9] {
            XCTAssertGreaterThanOrEqual(psnr(masked[i], full[i], columns: right), Self.samePixels, "frame \(i): the job's style inside")
        }
    }

    func testAGIFOutputRefusesAMaskInOneLine() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.3)
        let mask = try halfMask(dir)
        try assertFails(["video", input.path, "-o", dir.appendingPathComponent("out.gif").path, "-s", TestSupport.styleVectorFile.path,
                         "--mask", mask.path], in: dir, saying: "a mask needs an encoder that takes whole samples")
    }

    /// The columns `range` of `image`.
    func columns(_ image: RGBImage, _ range: Range<Int>) -> RGBImage {
        RGBImage(width: range.count, height: image.height, pixels: (0..<image.height).flatMap { y in
            image.pixels[(y * image.width + range.lowerBound) * 3..<(y * image.width + range.upperBound) * 3] })
    }

    func testALiveSourceKeysItsGreenScreen() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.5, overlay: "color=green")
        let out = dir.appendingPathComponent("live.mkv")
        let ran = try TestSupport.stylize(["live", input.path, "-o", out.path, "-s", TestSupport.styleVectorFile.path, "--codec", "ffv1",
                                           "--no-stabilize", "--precision", "f32", "--mask", "key:green", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        // The green half does not move: whichever frames were dropped, each written one keeps it.
        let written = try lumas(out, dir), green = try lumas(input, dir)[0]
        XCTAssertGreaterThan(written.count, 0)
        for i in written.indices {
            XCTAssertGreaterThanOrEqual(psnr(written[i], green, columns: left), Self.samePixels, "frame \(i): the green half is the original")
            XCTAssertLessThan(psnr(written[i], green, columns: right), 30, "frame \(i): the pattern is stylized")
        }
    }

    func testBadMasksFailInOneLineAndWriteNothing() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir, seconds: 0.2)
        let text = dir.appendingPathComponent("notes.txt")
        try "not a mask\n".write(to: text, atomically: true, encoding: .utf8)
        let empty = dir.appendingPathComponent("empty.nut")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=black:size=16x16", "-frames:v", "0", empty.path])
        let out = dir.appendingPathComponent("out.mkv").path
        try assertFails(["video", input.path, "-o", out, "-s", "starry-night", "--mask", text.path], in: dir, saying: "not a picture, clip or frame sequence")
        try assertFails(["video", input.path, "-o", out, "-s", "starry-night", "--mask", empty.path], in: dir, saying: "empty.nut: ")
        try assertFails(["video", input.path, "-o", out, "-s", "starry-night", "--mask", "key:nocolour"], in: dir, saying: "is not a colour")
        try assertFails(["video", input.path, "-o", out, "-s", "starry-night", "--mask", "luma:0.8-0.2"], in: dir, saying: "luma:LOW-HIGH")
        try assertFails(["image", TestSupport.fixture("content_96x96.png").path, "-o", dir.appendingPathComponent("o.png").path, "-s", "starry-night",
                         "--mask", dir.appendingPathComponent("missing.png").path], in: dir, saying: "missing.png")
    }

    func testAPictureTakesAMaskAndTheLibraryTakesSuppliedMasks() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let content = TestSupport.fixture("content_96x96.png")
        let original = try picture(content)
        let mask = try halfMask(dir, edge: 48, width: 96, height: 96)
        let masked = try still(content, style: TestSupport.styleVectorFile.path, ["--mask", mask.path], dir)
        let full = try still(content, style: TestSupport.styleVectorFile.path, [], dir)
        func half(_ image: RGBImage, _ columns: Range<Int>) -> RGBImage {
            RGBImage(width: columns.count, height: 96, pixels: (0..<96).flatMap { y in image.pixels[(y * 96 + columns.lowerBound) * 3..<(y * 96 + columns.upperBound) * 3] })
        }
        XCTAssertGreaterThanOrEqual(half(masked, 51..<96).psnr(half(full, 51..<96)), Self.samePixels)
        XCTAssertGreaterThanOrEqual(half(masked, 0..<45).psnr(half(original, 0..<45)), Self.samePixels)

        // The same mask, supplied frame by frame through the job.
        let input = try clip(dir, seconds: 0.2)
        let out = dir.appendingPathComponent("supplied.mkv")
        var job = StylizeJob(source: .clip(.file(input)), output: .file(out), style: .single(try StyleSpec(parsing: TestSupport.styleVectorFile.path)))
        job.options.codec = "ffv1"
        job.options.stabilization = 0
        job.options.precision = .f32
        let asked = Locked([Int]())
        job.regions = Regions(mask: .supplied(MaskFeed { index, _ in
            asked.withLock { $0.append(index) }
            return try RegionMask(width: 4, height: 2, values: [0, 0, 255, 255, 0, 0, 255, 255])
        }))
        XCTAssertEqual(job.commandLine.contains("--mask"), false, "a supplied mask has no command-line form")
        _ = try job.run(with: stylizer)
        XCTAssertEqual(asked.withLock { $0 }, [0, 1])
        let supplied = try lumas(out, dir), fileMasked = try lumas(stylize(input, ["--mask", halfMask(dir).path], dir).url, dir)
        // Scaled up 32 times, the supplied mask ramps between the centres of its middle pixels (columns 48 to 80).
        for i in supplied.indices {
            XCTAssertGreaterThanOrEqual(psnr(supplied[i], fileMasked[i], columns: 0..<46), Self.samePixels, "frame \(i), left")
            XCTAssertGreaterThanOrEqual(psnr(supplied[i], fileMasked[i], columns: 82..<Self.width), Self.samePixels, "frame \(i), right")
        }
    }

    func testASheetMasksEveryCell() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let content = TestSupport.fixture("content_96x96.png")
        let white = try halfMask(dir, edge: 0, width: 96, height: 96, name: "white.png")
        func sheet(_ extra: [String]) throws -> RGBImage {
            let out = dir.appendingPathComponent("sheet-\(UUID().uuidString).png")
            let ran = try TestSupport.stylize(["sheet", content.path, "-s", TestSupport.styleVectorFile.path, "--strengths", "0.5,1",
                                               "--cell-width", "64", "--precision", "f32", "-o", out.path] + extra)
            XCTAssertEqual(ran.status, 0, ran.stderr)
            return try picture(out)
        }
        // The two cells of the row: 64 pixels square, 200 from the left and 8 apart, under a 40-pixel header.
        func cell(_ sheet: RGBImage, _ column: Int) -> RGBImage {
            var pixels: [Float] = []
            for y in 40..<104 {
                let start: Int = (y * sheet.width + 200 + column * 72) * 3
                pixels += sheet.pixels[start..<(start + 64 * 3)]
            }
            return RGBImage(width: 64, height: 64, pixels: pixels)
        }
        let plain = try sheet([]), whole = try sheet(["--mask", white.path]), none = try sheet(["--mask", white.path, "--mask-invert"])
        XCTAssertGreaterThanOrEqual(whole.psnr(plain), Self.samePixels, "a white mask changes nothing")
        XCTAssertLessThan(cell(plain, 0).psnr(cell(plain, 1)), 40, "two strengths differ")
        XCTAssertGreaterThanOrEqual(cell(none, 0).psnr(cell(none, 1)), Self.samePixels, "an inverted white mask leaves the original in every cell")
    }

    func testTheCommandLineCarriesTheRegions() throws {
        var job = StylizeJob(source: .clip(.file(URL(fileURLWithPath: "in.mp4"))), output: .file(URL(fileURLWithPath: "out.mp4")),
                             style: .single(try StyleSpec(parsing: "starry-night")))
        job.regions = Regions(mask: try MaskSource(parsing: "key:#00B140:0.1:0.05"), outside: .style(try StyleSpec(parsing: "the-scream"), strength: 0.5),
                              invert: true, feather: 8)
        XCTAssertEqual(Array(job.commandLine.suffix(9)), ["--mask", "key:#00B140:0.1:0.05", "--mask-invert", "--mask-feather", "8",
                                                          "--outside", "the-scream", "--outside-strength", "0.5"])
        job.regions = Regions(mask: try MaskSource(parsing: "luma:0.5-1"), outside: .keyframes([try KeyframeSpec(parsing: "0=a.jpg"), try KeyframeSpec(parsing: "2=b.jpg@0.5")]))
        XCTAssertEqual(Array(job.commandLine.suffix(6)), ["--mask", "luma:0.5-1", "--outside-keyframe", "0=a.jpg", "--outside-keyframe", "2=b.jpg@0.5"])
        XCTAssertThrowsError(try MaskSource(parsing: "key:green:0.1")) { XCTAssertTrue("\($0)".contains("key:COLOR")) }
    }
}
