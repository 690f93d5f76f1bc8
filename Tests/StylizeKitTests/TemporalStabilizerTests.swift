import CFFmpeg
import StylizeFlow
import StylizeKernels
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

    /// DIS flow through the shim on a known shift, both ways, and on a sub-pixel one.
    func testFlowOnKnownShifts() throws {
        let flow = try OpticalFlow(TemporalStabilizer.flowSettings)
        let a = texture(width: 160, height: 96, seed: 1)
        let b = shiftedLeft(a, by: 4, fill: texture(width: 160, height: 96, seed: 2))
        let (la, lb) = (LumaPlane(a, scale: 1), LumaPlane(b, scale: 1))
        // Interior pixels, away from the new content on the right and from the borders.
        let interior = (8..<88).flatMap { y in (8..<140).map { x in y * 160 + x } }
        func median(_ values: [Float]) -> Float { values.sorted()[values.count / 2] }
        let backward = try flow.flow(from: lb, to: la), forward = try flow.flow(from: la, to: lb)
        XCTAssertEqual(median(interior.map { backward[2 * $0] }), 4, accuracy: 0.1, "b(x) is a(x + 4)")
        XCTAssertEqual(median(interior.map { backward[2 * $0 + 1] }), 0, accuracy: 0.1)
        XCTAssertEqual(median(interior.map { forward[2 * $0] }), -4, accuracy: 0.1)
        let within = interior.filter { abs(backward[2 * $0] - 4) < 0.5 && abs(backward[2 * $0 + 1]) < 0.5 }.count
        XCTAssertGreaterThan(Double(within) / Double(interior.count), 0.9)
        // Half a pixel down: the average of each row and the one above.
        var pixels = a.pixels
        for y in 1..<96 { for i in 0..<(160 * 3) { pixels[y * 480 + i] = 0.5 * (a.pixels[y * 480 + i] + a.pixels[(y - 1) * 480 + i]) } }
        let half = try flow.flow(from: LumaPlane(RGBImage(width: 160, height: 96, pixels: pixels), scale: 1), to: la)
        XCTAssertEqual(median(interior.map { half[2 * $0 + 1] }), -0.5, accuracy: 0.15, "sub-pixel motion is measured, not rounded")
        // Still content stays still.
        let still = try flow.flow(from: la, to: la)
        XCTAssertLessThan(interior.map { abs(still[2 * $0]) + abs(still[2 * $0 + 1]) }.max()!, 0.05)
    }

    /// DIS's patches that reach over the edge where content comes into view pull its flow off
    /// there (`fill_edges`): on a pan at the stabilizer's flow size, the flow is right up to the
    /// strip that is new, and still content stays still at the edges.
    func testFlowFollowsAPanToTheEdgeWhereContentComesIn() throws {
        let flow = try OpticalFlow(TemporalStabilizer.flowSettings)
        let (width, height) = (320, 180)
        let a = texture(width: width, height: height, seed: 3)
        let b = shiftedLeft(a, by: 4, fill: texture(width: width, height: height, seed: 4))
        let (la, lb) = (LumaPlane(a, scale: 1), LumaPlane(b, scale: 1))
        let backward = try flow.flow(from: lb, to: la)
        // The 16 columns before the 4 that are new, away from the top and bottom rows (without
        // the edges' second flow, 0.86 of them are within a quarter pixel, off by 0.17 on average).
        let strip = (20..<(height - 20)).flatMap { y in ((width - 20)..<(width - 4)).map { x in y * width + x } }
        let misses = strip.map { abs(backward[2 * $0] - 4) + abs(backward[2 * $0 + 1]) }
        XCTAssertGreaterThan(Double(misses.filter { $0 < 0.25 }.count) / Double(strip.count), 0.97, "b(x) is a(x + 4) up to the new strip")
        XCTAssertLessThan(misses.reduce(0, +) / Float(strip.count), 0.05)
        let still = try flow.flow(from: la, to: la)
        XCTAssertLessThan(still.map(abs).max()!, 0.05)
    }

    /// Lumas too small for DIS's pyramid to reach the level it stops at are refused (the frame
    /// then comes out unblended) rather than handed to DIS, which would read past its levels.
    func testFlowRefusesLumasTooSmallForItsPyramid() throws {
        let flow = try OpticalFlow(TemporalStabilizer.flowSettings)
        for (width, height) in [(40, 30), (12, 10), (64, 15)] {
            let luma = LumaPlane(texture(width: width, height: height, seed: 5), scale: 1)
            XCTAssertThrowsError(try flow.flow(from: luma, to: luma), "\(width)x\(height)")
        }
        let luma = LumaPlane(texture(width: 64, height: 48, seed: 5), scale: 1)
        XCTAssertEqual(try flow.flow(from: luma, to: luma).count, 2 * 64 * 48)
    }

    /// The blend on an exact pan (every interior pixel fully trusted): a change of colour is
    /// taken by `strength` (the coarse part), and strokes that moved with the content are carried
    /// over whole (the fine part), where averaging would soften them.
    func testBlendFollowsTheMotion() {
        let inputA = texture(width: 160, height: 96, seed: 1)
        let inputB = shiftedLeft(inputA, by: 4, fill: texture(width: 160, height: 96, seed: 2))
        let styledA = texture(width: 160, height: 96, seed: 3)
        let moved = shiftedLeft(styledA, by: 4, fill: texture(width: 160, height: 96, seed: 5))
        let interior = (16..<80).flatMap { y in (16..<132).flatMap { x in (0..<3).map { (y * 160 + x) * 3 + $0 } } }
        func mean(_ values: [Float]) -> Float { values.reduce(0, +) / Float(values.count) }

        // The network's next output: the previous one moved with the content, a shade darker.
        let darker = RGBImage(width: 160, height: 96, pixels: moved.pixels.map { $0 - 0.05 })
        let stabilizer = TemporalStabilizer(strength: 0.5)
        XCTAssertEqual(stabilizer.stabilize(input: inputA, stylized: styledA), styledA, "the first frame comes out as it is")
        let shade = stabilizer.stabilize(input: inputB, stylized: darker)
        XCTAssertEqual(mean(interior.map { shade.pixels[$0] - darker.pixels[$0] }), 0.5 * 0.05, accuracy: 0.003,
                       "half way back to the previous shade")
        XCTAssertEqual(stabilizer.cuts, 0)

        // Its strokes changed instead (fine noise on every value): they are taken from the
        // previous output, moved, all but entirely.
        var rng = SplitMix(4)
        let repainted = RGBImage(width: 160, height: 96, pixels: moved.pixels.map { $0 + 0.1 * (Float(rng.next() % 1000) / 1000 - 0.5) })
        let other = TemporalStabilizer(strength: 0.7)
        _ = other.stabilize(input: inputA, stylized: styledA)
        let strokes = other.stabilize(input: inputB, stylized: repainted)
        let before = mean(interior.map { abs(repainted.pixels[$0] - moved.pixels[$0]) })
        let after = mean(interior.map { abs(strokes.pixels[$0] - moved.pixels[$0]) })
        XCTAssertLessThan(after, 0.35 * before, "strokes are carried over (\(after) from the moved output, per-frame \(before))")
    }

    /// An unrelated stylization (the flow is right, the paintings have nothing in common): the
    /// changes are all scaled down together, to about the limit (24 dB) from the frame's own.
    func testFrameLimit() {
        let inputA = texture(width: 160, height: 96, seed: 1)
        let inputB = shiftedLeft(inputA, by: 4, fill: texture(width: 160, height: 96, seed: 2))
        let stabilizer = TemporalStabilizer(strength: 0.9)
        _ = stabilizer.stabilize(input: inputA, stylized: texture(width: 160, height: 96, seed: 3))
        let unrelated = texture(width: 160, height: 96, seed: 6)
        let out = stabilizer.stabilize(input: inputB, stylized: unrelated)
        // The detail given back after the limit cancels part of the change (it restores the
        // frame's own strokes), so the frame may end a little inside the limit.
        let limit = -10 * log10(Double(TemporalStabilizer.maximumMeanSquare)), psnr = out.psnr(unrelated)
        XCTAssertGreaterThanOrEqual(psnr, limit - 0.05, "PSNR against the frame's own stylization")
        XCTAssertLessThanOrEqual(psnr, limit + 1.5, "the blend was held back more than the limit asks")
    }

    /// Blends `own` (interleaved RGB floats, `width` x `height`) towards `previous` as the
    /// stabilizer does on still content with every pixel trusted, with no frame limit.
    func stillBlend(previous: [Float], own: [Float], width: Int, height: Int, share: Float, ceiling: Float = 1) throws -> [Float] {
        let flow = try OpticalFlow(TemporalStabilizer.flowSettings)
        let still = [Float](repeating: 0, count: 2 * width * height), trusted = [Float](repeating: 1, count: width * height)
        var out = own
        XCTAssertTrue(flow.warpBlend(previous: previous, backward: still, trust: trusted, sure: trusted, lowWidth: width, lowHeight: height,
                                     width: width, height: height,
                                     blend: stylize_blend(strength: 0.7, fine_trust: 1.3, fine_maximum: 0.85, band_sigma: 1.5, detail_sigma: 0.7,
                                                          detail_share: share, detail_ceiling: ceiling, max_gain: 3, max_mean_square: 1),
                                     into: &out))
        return out
    }

    /// The energy of the finest band (the blend's own: a Gaussian of sigma 0.7 cut at two sigmas)
    /// of interleaved RGB floats `width` wide, over columns `columns` and rows `rows`, each channel
    /// on its own.
    func bandEnergy(_ values: [Float], width: Int, columns: Range<Int>, rows: Range<Int>) -> Double {
        let weights = (-2...2).map { exp(-0.5 * Float($0 * $0) / (0.7 * 0.7)) }
        let taps = weights.map { $0 / weights.reduce(0, +) }
        var sum = 0.0
        for y in rows {
            for x in columns {
                for c in 0..<3 {
                    var blur: Float = 0
                    for j in -2...2 {
                        for i in -2...2 { blur += taps[j + 2] * taps[i + 2] * values[((y + j) * width + x + i) * 3 + c] }
                    }
                    let band = Double(values[(y * width + x) * 3 + c] - blur)
                    sum += band * band
                }
            }
        }
        return sum
    }

    /// The detail given back reaches the share of the stylization's own it aims at. Two unrelated
    /// paintings of fine noise on still content, every pixel trusted and no frame limit: carried
    /// over at 0.85, the strokes of the blend keep about 0.75 of the finest band's energy; raised,
    /// they reach `detail_share` of it, and a share the blend already has is not raised at all.
    func testDetailGivenBackReachesItsShare() throws {
        let (width, height) = (160, 96)
        var rng = SplitMix(11)
        func noise() -> [Float] { (0..<(width * height * 3)).map { _ in 0.5 + 0.3 * (Float(rng.next() % 1000) / 1000 - 0.5) } }
        let previous = noise(), own = noise()
        func energy(_ values: [Float]) -> Double { bandEnergy(values, width: width, columns: 4..<(width - 4), rows: 4..<(height - 4)) }
        let reference = energy(own)
        let unraised = energy(try stillBlend(previous: previous, own: own, width: width, height: height, share: 0)) / reference
        XCTAssertEqual(unraised, 0.75, accuracy: 0.06, "strokes carried over at 0.85 from an unrelated painting")
        for share in [Float(0.9), 1] {
            XCTAssertEqual(energy(try stillBlend(previous: previous, own: own, width: width, height: height, share: share)) / reference,
                           Double(share), accuracy: 0.03, "raised to \(share) of the own energy")
        }
        XCTAssertEqual(try stillBlend(previous: previous, own: own, width: width, height: height, share: Float(unraised) - 0.05),
                       try stillBlend(previous: previous, own: own, width: width, height: height, share: 0), "a share the blend already has is left as it is")
    }

    /// No tile's detail is raised past `detail_ceiling` of its own stylization's, and the frame's
    /// share is reached through the others. On the left, the strokes carried over are stronger
    /// than the frame's own (1.6 times its band's energy); on the right, an unrelated painting as
    /// strong as the own one is carried over (0.75 of its energy). Held at its own energy, the left
    /// is left as blended up to the centre of its last 32-pixel tile, and the right is raised
    /// further than one gain for the whole frame raises it, to the same share of the frame's own
    /// energy.
    func testDetailCeilingHoldsTilesAndRaisesTheRest() throws {
        let (width, height) = (256, 96)
        var rng = SplitMix(17)
        func noise(left: Float, right: Float) -> [Float] {
            (0..<(width * height * 3)).map { i in 0.5 + (i / 3 % width < width / 2 ? left : right) * (Float(rng.next() % 1000) / 1000 - 0.5) }
        }
        let previous = noise(left: 0.15, right: 0.3), own = noise(left: 0.1, right: 0.3)
        func blended(share: Float, ceiling: Float) throws -> [Float] {
            try stillBlend(previous: previous, own: own, width: width, height: height, share: share, ceiling: ceiling)
        }
        let unraised = try blended(share: 0, ceiling: 1), held = try blended(share: 0.9, ceiling: 1), one = try blended(share: 0.9, ceiling: 1000)
        // Columns 0...111 lie between the centres of the left half's tiles (16, 48, 80 and 112).
        let left = 0..<(112 * 3)
        for y in 0..<height {
            let row = y * width * 3
            XCTAssertEqual(Array(held[(row + left.lowerBound)..<(row + left.upperBound)]),
                           Array(unraised[(row + left.lowerBound)..<(row + left.upperBound)]), "row \(y) of the left is held")
        }
        func energy(_ values: [Float], _ columns: Range<Int>) -> Double { bandEnergy(values, width: width, columns: columns, rows: 4..<(height - 4)) }
        let leftInside = 4..<108, rightInside = 148..<(width - 4), inside = 4..<(width - 4)
        XCTAssertGreaterThan(energy(unraised, leftInside), 1.3 * energy(own, leftInside), "the left carries more than its own")
        XCTAssertGreaterThan(energy(one, leftInside), 1.05 * energy(unraised, leftInside), "one gain for the frame raises the left too")
        // What the right is raised by: all the frame needs when the left is held, a fifth less with one gain (the left takes its part).
        XCTAssertGreaterThan(energy(held, rightInside) - energy(unraised, rightInside), 1.1 * (energy(one, rightInside) - energy(unraised, rightInside)),
                             "held, the left leaves more to the right")
        XCTAssertEqual(energy(held, inside) / energy(own, inside), 0.9, accuracy: 0.04, "the frame reaches its share")
        XCTAssertEqual(energy(one, inside) / energy(own, inside), 0.9, accuracy: 0.04, "the frame reaches its share with one gain")
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
    /// must steady (frame-to-frame change at most half of per-frame stylization's); the strip the
    /// square has just left must look as per-frame stylization paints it, not carry a ghost of
    /// the square; and the square itself, followed by the flow, must stay its own stylization
    /// (both at least 30 dB from per-frame). A stabilizer that trusted every pixel gave 16-22 dB
    /// on the strip; one that trusted none would fail the background.
    func testMovingObjectLeftAloneWhileTheBackgroundSteadies() throws {
        // At 128x96 the flow is measured at full size; at 512x384 at half, as in a real clip.
        for k in [1, 4] {
            let stabilizer = TemporalStabilizer(strength: 0.6)
            try checkMovingObject("RGB x\(k)", scale: k) { input, stylized in (stylized, stabilizer.stabilize(input: input, stylized: stylized)) }
        }
    }

    /// A textured square crossing a textured background that moves too, at another speed and the
    /// other way (the camera pans right by 2 pixels a frame, the square moves right by 4): the
    /// same checks, the background's change taken along its motion.
    func testMovingObjectOverAMovingBackground() throws {
        for k in [1, 4] {
            let stabilizer = TemporalStabilizer(strength: 0.7)
            try checkMovingObject("RGB over a pan x\(k)", scale: k, backgroundStep: 2) { input, stylized in
                (stylized, stabilizer.stabilize(input: input, stylized: stylized))
            }
        }
    }

    /// The same scene blended the way `stylize video` blends it: in the encoder's pixel format,
    /// each plane at its own size (4:2:0 chroma, 10 bits, NV12's interleaved chroma, planar
    /// RGB). Per-frame stylization goes through the same format, so that only the blend is judged.
    func testMovingObjectInTheEncodersPixelFormats() throws {
        for (format, k) in [(AV_PIX_FMT_YUV420P, 1), (AV_PIX_FMT_YUV420P10LE, 1), (AV_PIX_FMT_NV12, 1), (AV_PIX_FMT_GBRP, 1), (AV_PIX_FMT_YUV420P, 4)] {
            let stabilizer = TemporalStabilizer(strength: 0.6)
            let converter = FrameConverter()
            let colors = VideoColors(matrix: AVCOL_SPC_UNSPECIFIED, range: AVCOL_RANGE_MPEG, primaries: AVCOL_PRI_UNSPECIFIED,
                                     transfer: AVCOL_TRC_UNSPECIFIED, height: 96 * k)
            try checkMovingObject("\(String(cString: av_get_pix_fmt_name(format))) x\(k)", scale: k) { input, stylized in
                func encoded() throws -> Frame {
                    try converter.frame(from: stylized, width: stylized.width, height: stylized.height, format: format, colors: colors)
                }
                let (plain, steady) = try (encoded(), encoded())
                stabilizer.stabilize(TemporalStabilizer.Motion(input), frame: steady)
                return try (converter.rgbImage(from: plain, width: input.width, height: input.height),
                            converter.rgbImage(from: steady, width: input.width, height: input.height))
            }
        }
    }

    /// The frame limit in the encoder's format: the planes' changes weighed as the RGB changes
    /// they make, so that an unrelated stylization comes out near the limit (24 dB PSNR) in RGB from the
    /// frame's own (above it: cross terms between luma and chroma are left out of the estimate).
    func testFrameLimitHoldsInRGB() throws {
        let input = texture(width: 160, height: 96, seed: 1)
        let colors = VideoColors(matrix: AVCOL_SPC_UNSPECIFIED, range: AVCOL_RANGE_MPEG, primaries: AVCOL_PRI_UNSPECIFIED,
                                 transfer: AVCOL_TRC_UNSPECIFIED, height: 96)
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV444P10LE, AV_PIX_FMT_GBRP] {
            let stabilizer = TemporalStabilizer(strength: 0.9)
            let converter = FrameConverter()
            func encoded(_ image: RGBImage) throws -> Frame {
                try converter.frame(from: image, width: 160, height: 96, format: format, colors: colors)
            }
            stabilizer.stabilize(TemporalStabilizer.Motion(input), frame: try encoded(texture(width: 160, height: 96, seed: 3)))
            let unrelated = texture(width: 160, height: 96, seed: 6)
            let (own, steady) = try (encoded(unrelated), encoded(unrelated))
            stabilizer.stabilize(TemporalStabilizer.Motion(input), frame: steady)
            let psnr = try converter.rgbImage(from: steady, width: 160, height: 96).psnr(converter.rgbImage(from: own, width: 160, height: 96))
            let name = String(cString: av_get_pix_fmt_name(format))
            print("\(name): an unrelated stylization blended at \(psnr) dB from the frame's own")
            let limit = -10 * log10(Double(TemporalStabilizer.maximumMeanSquare))
            XCTAssertGreaterThanOrEqual(psnr, limit - 0.2, "\(name): the frame moved too far from its own stylization")
            XCTAssertLessThanOrEqual(psnr, limit + 2, "\(name): the blend was held back more than the limit asks")
        }
    }

    /// The frame blend on 8- and 10-bit planes and NV12's interleaved chroma, odd sizes, with a
    /// smooth flow and a rough one that points out of the frame at the edges and far into it
    /// elsewhere, with a few values that are not numbers or infinite: it moves most samples,
    /// reads nothing outside the planes (the sanitizer pass runs this) and keeps every value in range.
    /// The trust regions report OpenCV's failure (here, a size it refuses) as an error code,
    /// rather than letting a C++ exception out through C; on sizes it takes, they succeed.
    /// The consistency check's slack grows with the square of the luma's width beyond 240
    /// samples, as the flows it compares do; within it, a flow that breaks by a pixel is trusted
    /// at the break only with the slack a wide luma has.
    func testConsistencySlackGrowsWithTheFrame() {
        XCTAssertEqual([120, 240, 480, 720].map { TemporalStabilizer.consistencySlack(forWidth: $0) }, [0.5, 0.5, 2, 4.5])
        // A still left half and a right half moving 2 pixels across: a pixel of the right half
        // that came from the left half's last columns misses by 2 pixels (4 squared).
        let (width, height) = (16, 8)
        var backward = [Float](repeating: 0, count: 2 * width * height)
        for y in 0..<height { for x in 8..<width { backward[2 * (y * width + x)] = -2 } }
        let luma = [UInt8](repeating: 128, count: width * height)
        func consistency(slack: Float) -> Float {
            var consistency = [Float](repeating: 0, count: width * height), match = consistency
            _ = stylize_flow_trust(backward, luma, luma, Int32(width), Int32(height), slack, 0.08, &consistency, &match)
            return consistency[4 * width + 9]
        }
        XCTAssertEqual(consistency(slack: 0.5), 0, "a miss of 4 against 0.5 + 0.01 * 4")
        XCTAssertEqual(consistency(slack: 8), 1, "a miss of 4 against 8 + 0.01 * 4")
    }

    /// The trust check's clones (AVX-512, AVX2 and the baseline, as far as this CPU and
    /// ONEDNN_MAX_CPU_ISA allow) give the same trusts, so that timing them and keeping the faster
    /// (`stylize_flow_trust`) changes only the time; so do its timed calls, before and after the
    /// choice. Random lumas, and a random flow and a smooth one broken at a few pixels, so that
    /// the samples fall between pixels, the checks pass, fail and half pass, and the AVX2 clone
    /// takes both of its ways of sampling.
    func testTrustClonesGiveTheSameTrusts() {
        let (width, height) = (67, 41)
        var rng = SplitMix(21)
        let random = (0..<(2 * width * height)).map { _ in Float(rng.next() % 2001) / 500 - 2 }
        // A smooth flow (which the AVX2 clone samples from a few loads) broken at a few pixels.
        let smooth = (0..<(2 * width * height)).map { i -> Float in
            let (x, y) = ((i / 2) % width, (i / 2) / width)
            return i % 97 == 0 ? 30 : i % 2 == 0 ? 0.7 * sin(Float(x + 2 * y) / 11) - 0.4 : 0.3 + 0.2 * cos(Float(x) / 7)
        }
        let before = (0..<(width * height)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let now = before.map { $0 &+ UInt8(rng.next() % 16) }
        for (name, backward) in [("random", random), ("smooth", smooth)] {
            func measured(level: Int32?) -> [Float] {
                var consistency = [Float](repeating: 0, count: width * height), match = consistency
                let doubtful = level.map { stylize_flow_trust_clone($0, backward, before, now, Int32(width), Int32(height), 0.5, 0.08, &consistency, &match) }
                    ?? stylize_flow_trust(backward, before, now, Int32(width), Int32(height), 0.5, 0.08, &consistency, &match)
                return consistency + match + [doubtful]
            }
            let baseline = measured(level: 0)
            XCTAssertEqual(Set(baseline.prefix(width * height).map { $0 == 0 ? 0 : $0 == 1 ? 1 : 2 }), [0, 1, 2],
                           "the consistency check fails, passes and half passes (\(name) flow)")
            func differing(_ values: [Float]) -> Int { zip(values, baseline).filter { $0 != $1 }.count }
            for level in Int32(1)...2 { XCTAssertEqual(differing(measured(level: level)), 0, "values clone \(level) gives otherwise (\(name) flow)") }
            for call in 0..<20 { XCTAssertEqual(differing(measured(level: nil)), 0, "values timed call \(call) gives otherwise (\(name) flow)") }
        }
    }

    /// The blend's warp of 8-bit planes gives the same values by its AVX2 kernel (which spreads
    /// one load per row of taps where 8 neighbouring samples come from one row of the previous
    /// output, and gathers them elsewhere), its AVX-512 one (as far as this CPU and
    /// ONEDNN_MAX_CPU_ISA allow) and the blend's timed choice as by the baseline, bit for bit:
    /// rows of a smooth flow, rows of a random one, places outside the plane, a width that is no
    /// multiple of 8. Where the flow is zero, each kernel gives the row itself.
    func testWarpKernelsGiveTheSameValues() {
        let (width, height) = (83, 29)
        var rng = SplitMix(5)
        let previous = (0..<(width * height)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func row(_ y: Int, level: Int32, flow: (Int) -> (Float, Float)) -> [Float] {
            var across = [Float](repeating: 0, count: 4 * width)
            for x in 0..<width {
                (across[x], across[width + x]) = flow(x)
                across[2 * width + x] = Float(x % 7) / 6
                across[3 * width + x] = Float(x % 5) / 4
            }
            var moved = [Float](repeating: -1, count: width), trust = moved, fine = moved
            XCTAssertEqual(stylize_flow_warp_row_clone(level, previous, Int32(width), Int32(height), across, Int32(y), 2, 2, 0.6, 0.5,
                                                       &moved, &trust, &fine), 0)
            return moved + trust + fine
        }
        for y in 0..<height {
            let smooth = { (x: Int) -> (Float, Float) in (0.8 + 0.3 * sin(Float(x + y) / 9), 0.15 + 0.01 * Float(y % 3)) }
            var jumps = SplitMix(UInt64(100 + y))
            let random = (0..<width).map { _ in (Float(jumps.next() % 4001) / 1000 - 2, Float(jumps.next() % 4001) / 1000 - 2) }
            for (name, flow) in [("smooth", smooth), ("random", { random[$0] })] {
                let baseline = row(y, level: 0, flow: flow)
                for level: Int32 in [1, 2, -1] {
                    let differing = zip(row(y, level: level, flow: flow), baseline).filter { $0 != $1 }.count
                    XCTAssertEqual(differing, 0, "values kernel \(level) gives otherwise on row \(y), \(name) flow")
                }
            }
            let unmoved = previous[(y * width)..<((y + 1) * width)].map(Float.init)
            for level in Int32(0)...1 {
                let differing = zip(row(y, level: level, flow: { _ in (0, 0) }), unmoved).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "samples kernel \(level) moves on row \(y) where the flow is zero")
            }
        }
    }

    func testFlatLumaExcusesTheFlowsJumps() {
        // Left half flat grey, right half a checkerboard of 4-pixel squares; no pixel consistent.
        let (width, height) = (64, 32)
        let luma = (0..<(width * height)).map { i -> UInt8 in
            let (x, y) = (i % width, i / width)
            return x < width / 2 ? 120 : ((x / 4 + y / 4) % 2 == 0 ? 60 : 180)
        }
        var consistency = [Float](repeating: 0, count: width * height)
        let match = [Float](repeating: 1, count: width * height)
        let scratch = Self.flowScratch()
        defer { stylize_flow_destroy(scratch) }
        let doubtful = stylize_flow_excuse_flat(scratch, &consistency, match, luma, Int32(width), Int32(height), 8, 2)
        // Flat over the whole window (8 wide, so up to 4 pixels from the texture): excused.
        for y in 0..<height {
            for x in 0..<(width / 2 - 5) { XCTAssertEqual(consistency[y * width + x], 1, "(\(x), \(y))") }
            for x in (width / 2 + 4)..<width { XCTAssertEqual(consistency[y * width + x], 0, "(\(x), \(y))") }
        }
        let left = consistency.enumerated().filter { $0.element < 0.1 }.count
        XCTAssertEqual(doubtful, Float(left) / Float(width * height))
        XCTAssertGreaterThan(doubtful, 0.4)
        XCTAssertEqual(stylize_flow_excuse_flat(scratch, &consistency, match, luma, -1, Int32(height), 8, 2), -1)
        // The scratch kept from the call before gives the same on a second call, and on a smaller luma.
        var again = [Float](repeating: 0, count: width * height)
        XCTAssertEqual(stylize_flow_excuse_flat(scratch, &again, match, luma, Int32(width), Int32(height), 8, 2), doubtful)
        XCTAssertEqual(again, consistency)
        let half = (0..<(width / 2 * height)).map { luma[($0 / (width / 2)) * width + width / 2 + $0 % (width / 2)] }
        var right = [Float](repeating: 0, count: half.count)
        XCTAssertGreaterThanOrEqual(stylize_flow_excuse_flat(scratch, &right, match, half, Int32(width / 2), Int32(height), 8, 2), 0)
        XCTAssertEqual(right.filter { $0 > 0 }.count, 0, "the checkerboard alone has no flat part")
    }

    /// A flow object for the C functions that keep their scratch memory in it.
    static func flowScratch() -> OpaquePointer {
        stylize_flow_create(stylize_flow_settings(finest_scale: 1, patch_size: 8, patch_stride: 4, descent_iterations: 16,
                                                  refinement_iterations: 0))!
    }

    func testTrustRegionsReportOpenCVsFailures() {
        let ones = [Float](repeating: 1, count: 64)
        var trust = [Float](repeating: 0, count: 64), sure = trust
        let scratch = Self.flowScratch()
        defer { stylize_flow_destroy(scratch) }
        XCTAssertEqual(stylize_flow_trust_regions(scratch, ones, ones, -8, 8, 2, &trust, &sure), -1)
        XCTAssertEqual(stylize_flow_trust_regions(scratch, ones, ones, 8, 8, 2, &trust, &sure), 0)
        XCTAssertEqual(trust, ones)
        XCTAssertEqual(sure, ones)
    }

    func testFrameBlendTakesAnyFlow() throws {
        /// Every sample of every plane of `frame`, row by row.
        func samples(_ frame: Frame) throws -> [Int] {
            var values: [Int] = []
            for plane in try XCTUnwrap(OpticalFlow.planes(of: frame)) {
                for y in 0..<Int(plane.height) {
                    let row = UnsafeRawPointer(plane.data + y * Int(plane.linesize))
                    for i in 0..<Int(plane.width * plane.channels) {
                        values.append(plane.bytes == 1 ? Int(row.load(fromByteOffset: i, as: UInt8.self))
                                                       : Int(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    }
                }
            }
            return values
        }
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NV12] {
            let name = String(cString: av_get_pix_fmt_name(format))
            let (width, height, lowWidth, lowHeight) = (101, 67, 34, 23)
            func noise(seed: UInt64) throws -> Frame {
                var rng = SplitMix(seed)
                let frame = try Frame(width: width, height: height, format: format)
                for plane in try XCTUnwrap(OpticalFlow.planes(of: frame)) {
                    let count = Int(plane.width * plane.channels)
                    for y in 0..<Int(plane.height) {
                        let row = UnsafeMutableRawPointer(plane.data + y * Int(plane.linesize))
                        for i in 0..<count {
                            let value = rng.next() % (UInt64(plane.maximum) + 1)
                            if plane.bytes == 1 { row.storeBytes(of: UInt8(value), toByteOffset: i, as: UInt8.self) }
                            else { row.storeBytes(of: UInt16(value), toByteOffset: 2 * i, as: UInt16.self) }
                        }
                    }
                }
                return frame
            }
            var rng = SplitMix(5)
            let trust = (0..<(lowWidth * lowHeight)).map { _ in Float(rng.next() % 1_001) / 1_000 }
            var rough = (0..<(lowWidth * lowHeight * 2)).map { _ in Float(rng.next() % 2_000) / 100 - 10 }
            // A flow that is no number, or infinite, moves nothing there (and reads nothing outside the plane).
            (rough[7], rough[2 * lowWidth + 10], rough[5 * lowWidth + 3]) = (.nan, .infinity, -.infinity)
            let smooth = (0..<(lowWidth * lowHeight)).flatMap { i -> [Float] in
                let (x, y) = (Float(i % lowWidth), Float(i / lowWidth))
                return [1.3 + 0.8 * sin(x / 5), -0.5 + 0.45 * cos(x / 3 + y / 4)]
            }
            let previous = try noise(seed: 1)
            for (motion, backward) in [("rough", rough), ("smooth", smooth)] {
                let flow = try OpticalFlow(TemporalStabilizer.flowSettings)
                let frame = try noise(seed: 2)
                XCTAssertTrue(flow.warpBlend(previous: previous, into: frame, backward: backward, trust: trust, sure: trust, lowWidth: lowWidth,
                                             lowHeight: lowHeight, blend: TemporalStabilizer(strength: 0.8).blend), name)
                let result = try samples(frame), unblended = try samples(try noise(seed: 2))
                let moved = zip(result, unblended).filter { $0 != $1 }.count
                XCTAssertGreaterThan(moved, unblended.count / 2, "\(name), \(motion) flow: the blend should move most samples")
                XCTAssertLessThanOrEqual(result.max() ?? 0, format == AV_PIX_FMT_YUV420P10LE ? 1023 : 255, "\(name), \(motion) flow")
            }
        }
    }

    /// Formats the frame blend cannot take are refused, so that the clip is blended in RGB.
    func testFramePlanesOfEachFormat() throws {
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NV12, AV_PIX_FMT_GBRP, AV_PIX_FMT_RGB24, AV_PIX_FMT_GRAY8] {
            let planes = OpticalFlow.planes(of: try Frame(width: 34, height: 20, format: format))
            XCTAssertNotNil(planes, String(cString: av_get_pix_fmt_name(format)))
            let weights = planes?.map(\.weight).reduce(0, +) ?? 0
            XCTAssertGreaterThan(weights, 0.99, "every plane counts towards the RGB change")
        }
        let yuv = try XCTUnwrap(OpticalFlow.planes(of: try Frame(width: 34, height: 20, format: AV_PIX_FMT_YUV420P)))
        XCTAssertEqual(yuv.map(\.width), [34, 17, 17])
        XCTAssertEqual(yuv.map(\.height), [20, 10, 10])
        XCTAssertEqual(try XCTUnwrap(OpticalFlow.planes(of: try Frame(width: 33, height: 21, format: AV_PIX_FMT_NV12))).map(\.width), [33, 17])
        XCTAssertEqual(try XCTUnwrap(OpticalFlow.planes(of: try Frame(width: 8, height: 8, format: AV_PIX_FMT_YUV420P10LE))).map(\.maximum), [1023, 1023, 1023])
        for format in [AV_PIX_FMT_PAL8, AV_PIX_FMT_YUYV422, AV_PIX_FMT_MONOBLACK, AV_PIX_FMT_GBRPF32LE, AV_PIX_FMT_YUV420P10BE, AV_PIX_FMT_RGB0] {
            XCTAssertNil(OpticalFlow.planes(of: try Frame(width: 16, height: 16, format: format)), String(cString: av_get_pix_fmt_name(format)))
        }
    }

    /// The moving-square scene, each frame stylized and then given to `stabilize` (which
    /// returns the per-frame and the stabilized picture to judge), with the checks above.
    func checkMovingObject(_ label: String, scale k: Int = 1, backgroundStep: Int = 0,
                           stabilize: (_ input: RGBImage, _ stylized: RGBImage) throws -> (RGBImage, RGBImage)) throws {
        let (width, height, side, top, step) = (128 * k, 96 * k, 24 * k, 40 * k, 4 * k)
        // The background moves left by `backgroundStep` pixels a frame (a camera panning right).
        let pan = backgroundStep * k, wide = texture(width: width + 12 * pan, height: height, seed: 1)
        let object = texture(width: side, height: side, seed: 7)
        var rng = SplitMix(11)
        func frame(_ t: Int) -> (RGBImage, x: Int) {
            var pixels: [Float] = []
            pixels.reserveCapacity(width * height * 3)
            for y in 0..<height {
                let start: Int = (y * wide.width + pan * t) * 3
                pixels.append(contentsOf: wide.pixels[start..<(start + width * 3)])
            }
            for i in pixels.indices {  // sensor noise, sigma about 2/255
                let u = Float(rng.next() % 10_000) / 10_000 + Float(rng.next() % 10_000) / 10_000 - 1
                pixels[i] = min(max(pixels[i] + u * 3.4 / 255, 0), 1)
            }
            let left = 8 * k + step * t
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
        var perFrame: [RGBImage] = [], steady: [RGBImage] = []
        for t in 0..<12 {
            let (input, left) = frame(t)
            let (stylized, stabilized) = try stabilize(input, try worker.stylize(input, conditioning))
            perFrame.append(stylized)
            steady.append(stabilized)
            // Where the square was a frame ago and no longer is: background now, and per-frame
            // stylization paints it as background. Blending in the past there drags a ghost of
            // the square behind it.
            guard t > 0 else { continue }
            func psnr(columns: Range<Int>) -> Double {
                var squared = 0.0
                for y in top..<(top + side) {
                    for x in columns {
                        for c in 0..<3 {
                            let d = Double(stabilized.pixels[(y * width + x) * 3 + c] - stylized.pixels[(y * width + x) * 3 + c])
                            squared += d * d
                        }
                    }
                }
                return 10 * log10(1 / max(squared / Double(side * columns.count * 3), 1e-12))
            }
            let trail = psnr(columns: (left - step)..<left)
            XCTAssertGreaterThanOrEqual(trail, 30, "\(label), frame \(t): a ghost of the square trails behind it (\(trail) dB from per-frame)")
            // The square itself, moving over the background: its own stylization, not smeared.
            let square = psnr(columns: left..<(left + side))
            XCTAssertGreaterThanOrEqual(square, 30, "\(label), frame \(t): the moving square is smeared (\(square) dB from per-frame)")
        }
        // Frame-to-frame change on background rows the square never crosses, along the background's motion.
        func change(_ frames: [RGBImage]) -> Double {
            var sum = 0.0, count = 0
            for t in 1..<frames.count {
                for y in Array(0..<(top - 16 * k)) + Array((top + side + 16 * k)..<height) {
                    for i in (y * width * 3)..<((y + 1) * width - pan) * 3 {
                        let d = Double(frames[t].pixels[i] - frames[t - 1].pixels[i + pan * 3])
                        sum += d * d
                        count += 1
                    }
                }
            }
            return sum / Double(count)
        }
        let (before, after) = (change(perFrame), change(steady))
        print("\(label): background frame-to-frame change: per-frame \(before), stabilized \(after) (\(after / before))")
        XCTAssertLessThanOrEqual(after, 0.5 * before, "\(label): the background did not steady")
    }
}
