import Foundation
import StylizeKernels

/// Steadies frame-by-frame stylization. Each output is blended with the previous output moved
/// along the optical flow between the two input frames, but only where that flow can be trusted:
/// it must agree with the flow the other way (pixels that come out of hiding, or go into it,
/// fail that check, as in Sundaram et al., ECCV 2010) and carry the previous frame's luma to the
/// current one. Strokes that crawl on still or moving content settle; objects that appear,
/// lighting that changes and scene cuts come through at once, so nothing ghosts. (The
/// blend-where-the-warp-is-valid idea of Lai et al., ECCV 2018, on DIS optical flow, Kroeger et
/// al., ECCV 2016.) The blend is recursive: the previous output already carries the frames before
/// it, with a weight that falls with every frame that does not match.
///
/// Runs on frames in order (one instance per clip); not thread-safe.
public final class TemporalStabilizer {
    /// How much of the previous output a fully trusted pixel keeps (0: none, 1: all).
    public let strength: Float
    /// Frames where the previous output was dropped because the scene changed.
    public private(set) var cuts = 0

    private var previous: Motion?
    private var previousOutput: RGBImage?
    private let flow: OpticalFlow?

    /// Luma difference (of 1) at which a moved pixel stops being trusted at all.
    static let lumaTolerance: Float = 0.08
    /// How far the blend may move a value (of 1) away from the frame's own stylization: where the
    /// stylization itself changes a lot from one frame to the next, holding on to the past would
    /// drift far from what this frame shows. With 0.1 no frame of the measured clips came out
    /// below 27 dB PSNR against its per-frame stylization (26.1 without the cap), for a warping
    /// error a few hundredths higher (`scripts/flicker.py`, docs in the README).
    static let maximumChange: Float = 0.1
    /// Share of untrusted pixels that makes a frame a scene cut.
    static let cutShare: Float = 0.6

    public init(strength: Double) {
        self.strength = Float(min(max(strength, 0), 1))
        // Without OpenCV's flow (it failed to start) every frame comes out as it is.
        flow = try? OpticalFlow(preset: .medium)
    }

    /// Forgets the past: the next frame comes out as it is.
    public func reset() {
        previous = nil
        previousOutput = nil
    }

    /// What the stabilizer needs of a network input: its luma at the flow's reduced scale.
    /// Computed where the frame is stylized (in parallel, off the in-order stage), and far
    /// smaller than the picture it comes from.
    public struct Motion: Sendable {
        let luma: LumaPlane
        let scale: Int
        let width: Int, height: Int

        public init(_ input: RGBImage) {
            scale = Self.scale(forWidth: input.width)
            luma = LumaPlane(input, scale: scale)
            (width, height) = (input.width, input.height)
        }

        /// The flow's scale for a frame `width` wide: about 240 pixels across. DIS's medium preset
        /// takes about 1.5 ms a direction there on one Zen 4 core; at 360 across it measured the
        /// same warping error within a few hundredths and cost a tenth more of the end-to-end rate.
        static func scale(forWidth width: Int) -> Int {
            max(1, Int((Double(width) / 240).rounded()))
        }
    }

    /// The steadied version of `stylized`, the network's output for `input` (same size).
    public func stabilize(input: RGBImage, stylized: RGBImage) -> RGBImage {
        stabilize(Motion(input), stylized: stylized)
    }

    /// The steadied version of `stylized`, the network's output for the input `motion` was
    /// measured on (same size).
    public func stabilize(_ motion: Motion, stylized: RGBImage) -> RGBImage {
        precondition(motion.width == stylized.width && motion.height == stylized.height, "input and output sizes differ")
        defer {
            previous = motion
        }
        guard strength > 0, let flow, let previous, let previousOutput,
              previous.width == motion.width, previous.height == motion.height,
              motion.luma.width >= 8, motion.luma.height >= 8,
              let backward = try? flow.flow(from: motion.luma, to: previous.luma),
              let forward = try? flow.flow(from: previous.luma, to: motion.luma) else {
            self.previousOutput = stylized
            return stylized
        }
        let (lowWidth, lowHeight) = (motion.luma.width, motion.luma.height)
        var trust = [Float](repeating: 0, count: lowWidth * lowHeight)
        let doubtful = previous.luma.values.withUnsafeBufferPointer { before in
            motion.luma.values.withUnsafeBufferPointer { now in
                stylize_flow_trust(backward, forward, before.baseAddress, now.baseAddress, Int32(lowWidth), Int32(lowHeight),
                                   Self.lumaTolerance, &trust)
            }
        }
        if doubtful > Self.cutShare {
            cuts += 1
            self.previousOutput = stylized
            return stylized
        }
        var out = stylized.pixels
        previousOutput.pixels.withUnsafeBufferPointer { before in
            stylize_flow_blend(before.baseAddress, backward, trust, Int32(lowWidth), Int32(lowHeight), Int32(motion.scale),
                               Int32(motion.width), Int32(motion.height), strength, Self.maximumChange, &out)
        }
        let result = RGBImage(width: motion.width, height: motion.height, pixels: out)
        self.previousOutput = result
        return result
    }
}
