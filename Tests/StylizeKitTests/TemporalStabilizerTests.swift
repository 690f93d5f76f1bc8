import XCTest
@testable import StylizeKit

/// The stabilizer's pieces: motion on a known shift, the blend, scene cuts, reset.
final class TemporalStabilizerTests: XCTestCase {
    /// A textured RGB image (smooth noise, so block matching has something to hold on to).
    func texture(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix(seed)
        let coarse = (0..<((width / 4 + 2) * (height / 4 + 2) * 3)).map { _ in Float(rng.next() % 1000) / 1000 }
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 { pixels[(y * width + x) * 3 + c] = coarse[((y / 4) * (width / 4 + 2) + x / 4) * 3 + c] * 0.7 + Float((x * 7 + y * 13 + c * 5) % 17) / 60 }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// `image` moved left by `shift` pixels (new content on the right is taken from `fill`).
    func shiftedLeft(_ image: RGBImage, by shift: Int, fill: RGBImage) -> RGBImage {
        var pixels = fill.pixels
        for y in 0..<image.height {
            for x in 0..<(image.width - shift) {
                for c in 0..<3 { pixels[(y * image.width + x) * 3 + c] = image.pixels[(y * image.width + x + shift) * 3 + c] }
            }
        }
        return RGBImage(width: image.width, height: image.height, pixels: pixels)
    }

    struct SplitMix {
        var state: UInt64
        init(_ seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
    }

    func testMotionOnAKnownShift() {
        let a = texture(width: 96, height: 64, seed: 1)
        let b = shiftedLeft(a, by: 4, fill: texture(width: 96, height: 64, seed: 2))
        let field = MotionField(previous: LumaPlane(a, scale: 1), current: LumaPlane(b, scale: 1), scale: 1)
        for row in 0..<field.rows {
            for column in 0..<(field.columns - 1) {  // the last column holds new content
                let i = row * field.columns + column
                XCTAssertEqual([field.dx[i], field.dy[i]], [4, 0], "block \(column),\(row)")
                XCTAssertEqual(field.error[i], 0, accuracy: 1e-6)
            }
        }
        // Still content stays at zero motion.
        let still = MotionField(previous: LumaPlane(a, scale: 1), current: LumaPlane(a, scale: 1), scale: 1)
        XCTAssertTrue(still.dx.allSatisfy { $0 == 0 } && still.dy.allSatisfy { $0 == 0 })
    }

    func testBlendFollowsTheMotion() {
        let stabilizer = TemporalStabilizer(strength: 0.5)
        let inputA = texture(width: 96, height: 64, seed: 1)
        let inputB = shiftedLeft(inputA, by: 4, fill: texture(width: 96, height: 64, seed: 2))
        let styledA = texture(width: 96, height: 64, seed: 3)
        let styledB = texture(width: 96, height: 64, seed: 4)
        XCTAssertEqual(stabilizer.stabilize(input: inputA, stylized: styledA), styledA, "the first frame comes out as it is")
        let out = stabilizer.stabilize(input: inputB, stylized: styledB)
        // Inside, every pixel is half its own stylization, half the previous output moved along.
        for y in [5, 30, 60] {
            for x in [3, 40, 80] {
                for c in 0..<3 {
                    let expected = 0.5 * styledB.pixels[(y * 96 + x) * 3 + c] + 0.5 * styledA.pixels[(y * 96 + x + 4) * 3 + c]
                    XCTAssertEqual(out.pixels[(y * 96 + x) * 3 + c], expected, accuracy: 1e-5)
                }
            }
        }
        XCTAssertEqual(stabilizer.cuts, 0)
    }

    func testSceneCutAndResetPassTheFrameThrough() {
        let stabilizer = TemporalStabilizer(strength: 0.8)
        let styled = texture(width: 64, height: 64, seed: 9)
        _ = stabilizer.stabilize(input: texture(width: 64, height: 64, seed: 1), stylized: texture(width: 64, height: 64, seed: 3))
        // An unrelated picture: a cut.
        XCTAssertEqual(stabilizer.stabilize(input: texture(width: 64, height: 64, seed: 5), stylized: styled), styled)
        XCTAssertEqual(stabilizer.cuts, 1)
        // The same picture again would blend; after a reset it does not.
        stabilizer.reset()
        XCTAssertEqual(stabilizer.stabilize(input: texture(width: 64, height: 64, seed: 5), stylized: styled), styled)
        XCTAssertNotEqual(stabilizer.stabilize(input: texture(width: 64, height: 64, seed: 5), stylized: texture(width: 64, height: 64, seed: 11)),
                          texture(width: 64, height: 64, seed: 11))
        // A new size is a new scene too.
        let small = texture(width: 32, height: 32, seed: 1)
        XCTAssertEqual(stabilizer.stabilize(input: small, stylized: small), small)
    }

    func testStrengthZeroChangesNothing() {
        let stabilizer = TemporalStabilizer(strength: 0)
        let input = texture(width: 48, height: 48, seed: 1)
        for seed in 2...4 {
            let styled = texture(width: 48, height: 48, seed: UInt64(seed))
            XCTAssertEqual(stabilizer.stabilize(input: input, stylized: styled), styled)
        }
    }

    /// A still textured background seen by a noisy camera, with a textured square moving
    /// across it 4 pixels a frame, stylized frame by frame and then stabilized: the background
    /// must steady (frame-to-frame change at most half of per-frame stylization's), and the
    /// strip the square has just left must look as per-frame stylization paints it (at least
    /// 30 dB from it), not carry a ghost of the square. Measured: 47 dB and more here (0.23 for
    /// the background); a stabilizer that trusted every pixel gave 16-22 dB on the strip, one
    /// that trusted none would fail the background. (The square itself is blended along its
    /// motion, as still content is: about 28 dB from per-frame.)
    func testMovingObjectLeftAloneWhileTheBackgroundSteadies() throws {
        let (width, height, side, top) = (128, 96, 24, 40)
        let background = texture(width: width, height: height, seed: 1)
        let object = texture(width: side, height: side, seed: 7)
        var rng = SplitMix(11)
        func frame(_ t: Int) -> (RGBImage, x: Int) {
            var pixels = background.pixels
            for i in pixels.indices {  // sensor noise, sigma about 2/255
                let u = Float(rng.next() % 10_000) / 10_000 + Float(rng.next() % 10_000) / 10_000 - 1
                pixels[i] = min(max(pixels[i] + u * 3.4 / 255, 0), 1)
            }
            let left = 8 + 4 * t
            for y in 0..<side {
                for x in 0..<side {
                    for c in 0..<3 { pixels[((top + y) * width + left + x) * 3 + c] = 0.3 + 0.7 * object.pixels[(y * side + x) * 3 + c] }
                }
            }
            return (RGBImage(width: width, height: height, pixels: pixels), left)
        }
        let stylizer = try self.stylizer
        let worker = try stylizer.makeWorker(precision: .f32)
        let conditioning = stylizer.transformer.conditioning(for: try StyleVector(TestSupport.floats("style_256.vector.f32")))
        let stabilizer = TemporalStabilizer(strength: 0.6)
        var perFrame: [RGBImage] = [], steady: [RGBImage] = []
        for t in 0..<12 {
            let (input, left) = frame(t)
            let stylized = try worker.stylize(input, conditioning)
            let stabilized = stabilizer.stabilize(input: input, stylized: stylized)
            perFrame.append(stylized)
            steady.append(stabilized)
            // Where the square was a frame ago and no longer is: background now, and per-frame
            // stylization paints it as background. Blending in the past there drags a ghost of
            // the square behind it.
            guard t > 0 else { continue }
            var squared = 0.0
            for y in top..<(top + side) {
                for x in (left - 4)..<left {
                    for c in 0..<3 {
                        let d = Double(stabilized.pixels[(y * width + x) * 3 + c] - stylized.pixels[(y * width + x) * 3 + c])
                        squared += d * d
                    }
                }
            }
            let psnr = 10 * log10(1 / max(squared / Double(side * 4 * 3), 1e-12))
            XCTAssertGreaterThanOrEqual(psnr, 30, "frame \(t): a ghost of the square trails behind it (\(psnr) dB from per-frame)")
        }
        // Frame-to-frame change on background rows the square never crosses.
        func change(_ frames: [RGBImage]) -> Double {
            var sum = 0.0, count = 0
            for t in 1..<frames.count {
                for y in Array(0..<(top - 16)) + Array((top + side + 16)..<height) {
                    for i in (y * width * 3)..<((y + 1) * width * 3) {
                        let d = Double(frames[t].pixels[i] - frames[t - 1].pixels[i])
                        sum += d * d
                        count += 1
                    }
                }
            }
            return sum / Double(count)
        }
        let (before, after) = (change(perFrame), change(steady))
        print("background frame-to-frame change: per-frame \(before), stabilized \(after) (\(after / before))")
        XCTAssertLessThanOrEqual(after, 0.5 * before, "the background did not steady")
    }
}
