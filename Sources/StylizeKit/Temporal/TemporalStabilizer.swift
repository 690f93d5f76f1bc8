import Foundation
import StylizeFlow

/// Steadies frame-by-frame stylization. Each output is blended with the previous output moved
/// along the optical flow between the two input frames, but only where that flow can be trusted:
/// it must be locally consistent (where a pixel comes out of hiding, or goes into it, the flow
/// changes over the distance it moves; a second flow the other way, as in Sundaram et al., ECCV
/// 2010, cost twice as much and measured no better) and carry the previous frame's luma to the
/// current one; near a break in the flow (the edge of a moving object) it is not trusted. The
/// difference from the moved previous output is taken in two parts: its coarse part (colour,
/// shading) by `strength` times the trust, its fine part (the strokes) whole wherever the trust
/// is high, since averaging two frames' strokes that do not line up softens both. What the blend
/// and the resampling still take from the finest detail is given back, tile by tile no further
/// than a little past the frame's own painting there. Strokes that crawl on
/// still or moving content settle; objects that appear, lighting that changes and scene cuts come
/// through at once, so nothing ghosts. (The blend-where-the-warp-is-valid idea of Lai et al.,
/// ECCV 2018, on DIS optical flow, Kroeger et al., ECCV 2016.) The blend is recursive: the
/// previous output already carries the frames before it, with a weight that falls with every
/// frame that does not match.
///
/// Runs on frames in order (one instance per clip); not thread-safe.
package final class TemporalStabilizer {
    /// How much of the previous output a fully trusted pixel keeps (0: none, 1: all).
    public let strength: Float
    /// Frames where the previous output was dropped because the scene changed.
    public private(set) var cuts = 0
    /// CPU time this stabilizer spent measuring motion (where the stage does it rather than the
    /// workers) and blending, in nanoseconds.
    var cpuNanoseconds: UInt64 { flow?.cpuTime.nanoseconds ?? 0 }

    private var previous: Motion?
    private var previousOutput: RGBImage?
    private var previousFrame: Frame?
    private let flow: OpticalFlow?

    /// Luma difference (of 1) at which a moved pixel stops being trusted at all.
    static let lumaTolerance: Float = 0.08
    /// The miss the flow's consistency check always allows (`stylize_flow_trust`), in squared
    /// pixels of a luma `width` wide: 0.5 (Sundaram et al.'s constant) up to 240 pixels across (a
    /// 480-pixel frame, the size the corpus's clips are measured at), growing with the square of
    /// the width beyond, as the rest of the check does (it is relative to the flow's length). A
    /// fixed constant made the check stricter the larger the frame: the same handheld underwater
    /// clip had 10 of 48 frames dropped as scene cuts at 480 pixels wide and 25 at 1280, where
    /// it came out as per frame (warping error 1.00 of per-frame's; 0.97 with this, and a street
    /// clip 0.37 against 0.38; `scripts/flicker.py --real-width 1280`). Pans at 640x360 move by
    /// less than 0.01.
    static func consistencySlack(forWidth width: Int) -> Float {
        let relative = Float(width) / 240
        return 0.5 * max(1, relative * relative)
    }
    /// The mean gradient (levels of 255 per pixel, over DIS's patch) under which the luma is too
    /// flat for DIS to find its motion (`stylize_flow_excuse_flat`): there a jump in the flow is
    /// not taken for the edge of a moving object, and the pixel is trusted as far as its luma
    /// matches. About what sensor noise of 3 levels alone gives. With the jumps taken for breaks,
    /// strokes were not carried over the flat parts of a frame (grey walls, sky, the backgrounds of
    /// renders and motion graphics), which flickered as per frame, and frames of them were taken for
    /// scene cuts. 2 was chosen on the corpus's tuning half, where it lowered every clip's warping
    /// error or kept it (a rendered teapot from 0.74 to 0.54) and kept every clip's fine detail at
    /// 0.9 or above; 4 lowered it further but took a zoom's detail under 0.9 (docs/stabilizer.md).
    static let flatGradient: Float = 2
    /// How far (in pixels of the flow's scale) a break in the flow keeps strokes from being
    /// carried over around it (`stylize_flow_trust_regions`): the edges of moving objects are
    /// where the flow is least sure, and carrying strokes over there drags a ghost of the object
    /// along.
    static let consistencyReach: Int32 = 2
    /// How much more the fine part of the difference (strokes) is trusted than the coarse part
    /// (colour, shading), which is taken by `strength` times the trust: at the default strength
    /// 0.7, a pixel surely trusted 0.65 or more carries 0.85 of them over. Averaging two frames'
    /// strokes that do not line up softens both, and left clips at 0.55-0.78 of per-frame's fine
    /// detail; carried over, a stroke stays a stroke.
    static let fineTrust: Float = 1.3 / 0.7
    /// The most of the previous output's strokes a frame keeps, so that the past fades (a piece of
    /// a clip started earlier joins the rest, see `memory`) and every frame keeps a little of its
    /// own painting: a frame then less often meets the frame limit, which leaves less flicker
    /// than carrying the strokes whole (docs/stabilizer.md).
    static let fineMaximum: Float = 0.85
    /// Where the difference splits into coarse and fine, a Gaussian's sigma in pixels.
    static let bandSigma: Float = 1.5
    /// The finest detail the blend gives back (a Gaussian's sigma in pixels), how much of the
    /// stylization's own energy there it gives back where strokes are carried over, and by how much
    /// it may raise it at most (`stylize_blend`): bicubic resampling of the previous output, frame
    /// after frame, averaging two frames' strokes and the frame limit, which mixes the blend with
    /// the frame's own stylization, soften the finest strokes. A band of sigma 0.7 holds the
    /// detail that resampling takes first. 0.9 of the energy is the least that kept 0.9 of
    /// per-frame's fine detail (mean absolute Laplacian) on every real clip of the corpus's tuning
    /// half (0.85 kept 0.885 on two); the whole energy, at sigma 1, let two of them flicker a sixth to
    /// a quarter more; sigma 1 kept less of the finest detail with more flicker, and sigma 0.5 and 0.6 kept
    /// less of it (0.68 and 0.81 on a low-light webcam clip, against 0.91; `scripts/flicker.py
    /// --corpus`, docs/stabilizer.md).
    static let detailSigma: Float = 0.7
    static let detailShare: Float = 0.9
    static let maximumGain: Float = 1.6
    /// The most a tile of the frame (about 32 pixels on a side) has its fine detail raised to, as
    /// a share of its own stylization's energy there. The gain is solved for the frame, but where
    /// strokes are carried over whole and resampling takes nothing (the still centre of a zoom, a
    /// still background), raising them again in every frame sharpened them past the painting's
    /// own: 1.4-1.7 times its mean absolute Laplacian at the centre of a zoom, while the moving
    /// edges stayed at 0.8. Held there, the tiles leave the frame's gain to raise the others. At
    /// 1.5 every zoom of the corpus's tuning half kept 0.91 of per-frame's detail or more (0.88 on
    /// one before) for 0.01 more flicker on two clips; at 1, every tile held to its own, the detail
    /// was the most even but the clips flickered a tenth more (median 0.315 to 0.350), and at 2
    /// one zoom stayed at 0.899 (docs/stabilizer.md).
    static let detailCeiling: Float = 1.5
    /// How far a whole frame may move away from its own stylization, as a mean square over its
    /// values: 24 dB PSNR. A frame whose blend and detail given back would move it further has
    /// the blend's changes scaled down, the detail given back whole for them, as far as keeps it
    /// within (scaling the detail down with the changes, as before, left zooms, where the limit
    /// binds, 0.015-0.02 less of their fine detail: docs/stabilizer.md). A consistent clip cannot
    /// stay close to independent per-frame paintings, which place different strokes frame after
    /// frame; 24 dB keeps every frame recognisably its own stylization.
    static let maximumMeanSquare = Float(pow(10, -24.0 / 10))
    /// DIS's settings: OpenCV's medium preset with patches 4 pixels apart instead of 3, 16
    /// descent iterations instead of 25 and no variational refinement: less than half of
    /// medium's time, with the same warping error on real clips (`scripts/flicker.py`), and no
    /// trail behind the moving square of the tests, which cheaper settings (a coarser finest
    /// level, patches 6 apart) leave. Patches 5 apart (a fifth less of DIS's time) steadied exact
    /// pans better but real clips less (held-back median 0.358 against 0.342). On frames 1280
    /// wide, searching a level coarser (a quarter of DIS's time) let an exact pan over fur flicker
    /// 1.9 times as much as per frame (0.24 at level 1; `scripts/flicker.py --exact-scale 2`).
    static let flowSettings = OpticalFlow.Settings(finestScale: 1, patchSize: 8, patchStride: 4, descentIterations: 16,
                                                   refinementIterations: 0)
    /// Share of untrusted pixels that makes a frame a scene cut.
    static let cutShare: Float = 0.6

    public init(strength: Double) {
        self.strength = Float(min(max(strength, 0), 1))
        // Without OpenCV's flow (it failed to start) every frame comes out as it is.
        flow = try? OpticalFlow(Self.flowSettings)
    }

    /// The blend's settings at this strength (`stylize_blend`).
    var blend: stylize_blend {
        stylize_blend(strength: strength, fine_trust: strength * Self.fineTrust, fine_maximum: Self.fineMaximum, band_sigma: Self.bandSigma,
                      detail_sigma: Self.detailSigma, detail_share: Self.detailShare, detail_ceiling: Self.detailCeiling, max_gain: Self.maximumGain, max_mean_square: Self.maximumMeanSquare)
    }

    /// The blend's settings for RGB floats of 0...1, which are rounded to 8 bits where they are
    /// written, as their per-frame stylization is: rounding both adds about 1/6 of a level
    /// squared to the mean square between them (measured: frames at the limit came out 23.997
    /// dB from per-frame through `stylize frames`), so the limit leaves that room.
    var floatBlend: stylize_blend {
        var settings = blend
        settings.max_mean_square -= 1 / (6 * 255 * 255)
        return settings
    }

    /// The most of the previous output a frame keeps at `strength`: the share of the past that is
    /// left after n frames is at most this to the n-th.
    public static func memory(strength: Double) -> Double {
        let strength = Float(min(max(strength, 0), 1))
        return Double(max(strength, min(fineMaximum, strength * fineTrust)))
    }

    /// Forgets the past: the next frame comes out as it is.
    public func reset() {
        previous = nil
        previousOutput = nil
        previousFrame = nil
    }

    /// What the stabilizer needs of a network input: its luma at the flow's reduced scale, and,
    /// when it was measured where the frame was stylized (in parallel, off the in-order stage),
    /// the flow back to the previous frame and how far it can be trusted.
    public struct Motion: Sendable {
        let luma: LumaPlane
        let scale: Int
        let width: Int, height: Int
        private(set) var measured: Measurement?

        public init(_ input: RGBImage) {
            let scale = Self.scale(forWidth: input.width)
            self.init(luma: LumaPlane(input, scale: scale), scale: scale, width: input.width, height: input.height)
        }

        init(luma: LumaPlane, scale: Int, width: Int, height: Int) {
            (self.luma, self.scale, self.width, self.height) = (luma, scale, width, height)
        }

        /// The flow's scale for a frame `width` wide: half of it, or all of it below 360 pixels
        /// across. Fine texture (grass, fur, skin) averaged over 3 x 3 pixels or more leaves DIS
        /// nothing to follow, and exact pans over such photos flicker more than per frame; at
        /// half size the flow follows them at a small share of a frame's time (docs/speed.md),
        /// and below about 120 pixels across the moving square of the tests leaves a trail.
        static func scale(forWidth width: Int) -> Int {
            width >= 360 ? 2 : 1
        }

        /// Measures the flow back to the frame whose luma is `previous` (the frame before this
        /// one), so that the in-order stage only has to warp and blend.
        mutating func measure(against previous: LumaPlane, flow: OpticalFlow) {
            measured = Measurement.measure(luma, against: previous, flow: flow)
        }
    }

    /// The flow from a frame back to the one before it, and how far it can be trusted.
    struct Measurement: Sendable {
        /// The luma it was measured against.
        let previous: LumaPlane
        let backward: [Float]
        /// How far the coarse and the fine part of the blend trust each pixel (`stylize_flow_trust_regions`).
        let trust: [Float], sure: [Float]
        /// The share of pixels hardly trusted at all (`stylize_flow_excuse_flat`).
        let doubtful: Float

        /// The flow from the frame whose luma is `luma` back to the one whose luma is `previous`,
        /// its CPU time counted in `flow`'s; nil where the lumas differ in size, are smaller than
        /// 8 x 8, or the flow could not be measured.
        static func measure(_ luma: LumaPlane, against previous: LumaPlane, flow: OpticalFlow) -> Measurement? {
            flow.timed { Measurement(luma, against: previous, flow: flow) }
        }

        private init?(_ luma: LumaPlane, against previous: LumaPlane, flow: OpticalFlow) {
            guard luma.width == previous.width, luma.height == previous.height, luma.width >= 8, luma.height >= 8,
                  let backward = try? flow.flow(from: luma, to: previous) else { return nil }
            let count = luma.width * luma.height
            var consistency = [Float](repeating: 0, count: count), match = consistency, trust = consistency, sure = consistency
            let window = Int32(TemporalStabilizer.flowSettings.patchSize << TemporalStabilizer.flowSettings.finestScale)
            flow.check(backward: backward, previous: previous, current: luma, slack: TemporalStabilizer.consistencySlack(forWidth: luma.width),
                       lumaTolerance: TemporalStabilizer.lumaTolerance, consistency: &consistency, match: &match)
            doubtful = flow.excuseFlat(consistency: &consistency, match: match, luma: luma, window: window, flatGradient: TemporalStabilizer.flatGradient)
            // Where OpenCV fails, the frame is not blended (as where the flow could not be measured).
            guard doubtful >= 0, flow.trustRegions(consistency: consistency, match: match, width: luma.width, height: luma.height,
                                                   reach: TemporalStabilizer.consistencyReach, trust: &trust, sure: &sure) else { return nil }
            (self.previous, self.backward, self.trust, self.sure) = (previous, backward, trust, sure)
        }
    }

    /// The steadied version of `stylized`, the network's output for `input` (same size).
    public func stabilize(input: RGBImage, stylized: RGBImage) -> RGBImage {
        stabilize(Motion(input), stylized: stylized)
    }

    /// The steadied version of `stylized`, the network's output for the input `motion` was
    /// measured on (same size).
    public func stabilize(_ motion: Motion, stylized: consuming RGBImage) -> RGBImage {
        precondition(motion.width == stylized.width && motion.height == stylized.height, "input and output sizes differ")
        defer { previous = motion }
        guard let previousOutput, let measured = blendable(motion), let flow else {
            self.previousOutput = stylized
            return stylized
        }
        // Blended in place: the network's output is not needed once it is steadied (it is not
        // copied when the caller hands it over, as the pipelines do).
        var result = consume stylized
        _ = flow.timed {
            flow.warpBlend(previous: previousOutput.pixels, backward: measured.backward, trust: measured.trust, sure: measured.sure,
                           lowWidth: motion.luma.width, lowHeight: motion.luma.height, width: motion.width, height: motion.height,
                           blend: floatBlend, into: &result.pixels)
        }
        self.previousOutput = result
        return result
    }

    /// Steadies `frame` in place: the network's output for the input `motion` was measured on,
    /// already in the encoder's pixel format (any size; the flow is scaled to each plane), as
    /// `OpticalFlow.planes(of:)` accepts it. The blend is the one above, on the frame's own
    /// values (YUV, most often): half the values of RGB at 4:2:0, and the colour conversion
    /// stays with the frame's worker. Keeps a reference to `frame`, which must not change
    /// afterwards (the encoder only reads it).
    func stabilize(_ motion: Motion, frame: Frame) {
        defer {
            previous = motion
            previousFrame = frame
        }
        guard let previousFrame, let measured = blendable(motion), let flow else { return }
        _ = flow.timed {
            flow.warpBlend(previous: previousFrame, into: frame, backward: measured.backward, trust: measured.trust, sure: measured.sure,
                           lowWidth: motion.luma.width, lowHeight: motion.luma.height, blend: blend)
        }
    }

    /// The flow back to the previous frame when `motion`'s frame can be blended with the
    /// previous output: nil for the first frame, a frame of another size, and a scene cut
    /// (counted).
    private func blendable(_ motion: Motion) -> Measurement? {
        guard strength > 0, let flow, let previous, previous.width == motion.width, previous.height == motion.height,
              let measured = motion.measured.flatMap({ $0.previous.values == previous.luma.values ? $0 : nil })
                ?? Measurement.measure(motion.luma, against: previous.luma, flow: flow) else { return nil }
        if measured.doubtful > Self.cutShare {
            cuts += 1
            return nil
        }
        return measured
    }
}
