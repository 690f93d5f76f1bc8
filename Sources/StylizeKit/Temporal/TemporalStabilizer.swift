import Foundation

/// Steadies frame-by-frame stylization. Each output is blended with the previous output moved
/// along the motion between the two input frames, but only where that motion explains the
/// input (so moving objects, occlusions and lighting changes are left alone, and nothing
/// ghosts), and not at all across a scene cut. Strokes that crawl on still or smoothly moving
/// content settle; real change comes through at once. (The blend-where-the-warp-is-valid idea
/// of Lai et al., ECCV 2018, with block matching in place of optical flow.)
///
/// Runs on frames in order (one instance per clip); not thread-safe.
public final class TemporalStabilizer {
    /// How much of the previous output a perfectly matched pixel keeps (0: none, 1: all).
    public let strength: Float
    /// Frames where the previous output was dropped because the scene changed.
    public private(set) var cuts = 0

    private var previousInput: LumaPlane?
    private var previousWorking: LumaPlane?
    private var previousOutput: RGBImage?

    /// Per-pixel luma difference at which a pixel stops being trusted at all.
    static let pixelTolerance: Float = 0.08
    /// Mean block difference at which a block stops being trusted at all.
    static let blockTolerance: Float = 0.04
    /// Share of untrusted blocks that makes a frame a scene cut.
    static let cutShare: Float = 0.6

    public init(strength: Double) {
        self.strength = Float(min(max(strength, 0), 1))
    }

    /// Forgets the past: the next frame comes out as it is.
    public func reset() {
        previousInput = nil
        previousWorking = nil
        previousOutput = nil
    }

    /// What the stabilizer needs of a network input: its luma at full and at the motion search's
    /// scale. Computed where the frame is stylized (in parallel, off the in-order stage), and
    /// far smaller than the picture it comes from.
    public struct Motion: Sendable {
        let luma: LumaPlane
        let working: LumaPlane
        let scale: Int

        public init(_ input: RGBImage) {
            scale = MotionField.scale(forWidth: input.width)
            luma = LumaPlane(input, scale: 1)
            working = LumaPlane(input, scale: scale)
        }
    }

    /// The steadied version of `stylized`, the network's output for `input` (same size).
    public func stabilize(input: RGBImage, stylized: RGBImage) -> RGBImage {
        stabilize(Motion(input), stylized: stylized)
    }

    /// The steadied version of `stylized`, the network's output for the input `motion` was
    /// measured on (same size).
    public func stabilize(_ motion: Motion, stylized: RGBImage) -> RGBImage {
        precondition(motion.luma.width == stylized.width && motion.luma.height == stylized.height, "input and output sizes differ")
        let (scale, luma, working) = (motion.scale, motion.luma, motion.working)
        defer {
            previousInput = luma
            previousWorking = working
        }
        guard strength > 0, let previousInput, let previousWorking, let previousOutput,
              previousOutput.width == stylized.width, previousOutput.height == stylized.height,
              working.width > 0, working.height > 0 else {
            self.previousOutput = stylized
            return stylized
        }
        let motion = MotionField(previous: previousWorking, current: working, scale: scale)
        let untrusted = motion.error.filter { $0 > Self.blockTolerance }.count
        if Float(untrusted) > Self.cutShare * Float(motion.error.count) {
            cuts += 1
            self.previousOutput = stylized
            return stylized
        }
        let (w, h) = (stylized.width, stylized.height)
        var out = stylized.pixels
        previousOutput.pixels.withUnsafeBufferPointer { prevOut in
            previousInput.values.withUnsafeBufferPointer { prevY in
                luma.values.withUnsafeBufferPointer { curY in
                    out.withUnsafeMutableBufferPointer { o in
                        for y in 0..<h {
                            for x in 0..<w {
                                let block = motion.block(x: x, y: y)
                                let sx = x + motion.dx[block], sy = y + motion.dy[block]
                                guard sx >= 0, sx < w, sy >= 0, sy < h else { continue }
                                let pixelError = abs(curY[y * w + x] - prevY[sy * w + sx])
                                let trust = max(0, 1 - pixelError / Self.pixelTolerance) * max(0, 1 - motion.error[block] / Self.blockTolerance)
                                let weight = strength * trust
                                guard weight > 0 else { continue }
                                let d = (y * w + x) * 3, s = (sy * w + sx) * 3
                                for c in 0..<3 { o[d + c] += weight * (prevOut[s + c] - o[d + c]) }
                            }
                        }
                    }
                }
            }
        }
        let result = RGBImage(width: w, height: h, pixels: out)
        self.previousOutput = result
        return result
    }
}
