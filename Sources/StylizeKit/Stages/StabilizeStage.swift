import Foundation

/// The stabilize stage, which sees frames in order: each stylized frame is blended with the
/// previous output moved along the optical flow, in RGB or in the encoder's format, and comes
/// out as the frame to write.
final class StabilizeStage {
    let stabilizer: TemporalStabilizer?
    /// Steadies the outside's style on its own, when a mask gives the rest a second style.
    private let outsideStabilizer: TemporalStabilizer?
    private let convert: ConvertStage
    private let converter = FrameConverter()

    /// `strength` 0 stabilizes nothing: frames pass as the workers finished them.
    /// `stylizedOutside`: a mask gives the rest of each frame a second style, steadied apart.
    init(strength: Double, convert: ConvertStage, stylizedOutside: Bool = false) {
        stabilizer = strength > 0 ? TemporalStabilizer(strength: strength) : nil
        outsideStabilizer = strength > 0 && stylizedOutside ? TemporalStabilizer(strength: strength) : nil
        self.convert = convert
    }

    /// The frame to write for `item`, the `index`th written, or nil when nothing is written
    /// for it (a warm-up frame, a packet, a skipped picture).
    func frame(for item: StylizedItem, index: Int) throws -> Frame? {
        switch item {
        case .frame(let frame):
            return frame
        case .warmup(let input, let stylized):
            // Before a piece's first frame: only the stabilizer's state needs it.
            _ = stabilizer!.stabilize(input, stylized: stylized.take())
            return nil
        case .image(let input, let stylized, let pts, let aspect):
            let steady = stabilizer!.stabilize(input, stylized: stylized.take())
            return try convert.frame(from: steady, pts: pts, aspect: aspect, index: index, converter: converter)
        case .encoded(let input, let frame, let written):
            stabilizer!.stabilize(input, frame: frame)
            guard written else { return nil }
            try convert.offer(frame, index: index, converter: converter)
            return frame
        case .masked(let input, let frame, let outside, let stylizedOutside, let mask, let written):
            // Each layer is steadied towards its own past; the blend by the mask of the moment
            // comes after, on a copy (the stabilizers keep the layers as they are).
            stabilizer!.stabilize(input, frame: frame)
            if stylizedOutside { outsideStabilizer!.stabilize(input, frame: outside) }
            guard written else { return nil }
            let blended = try frame.copy()
            try RegionBlend.blend(blended, with: outside, mask: mask)
            try convert.offer(blended, index: index, converter: converter)
            return blended
        case .packet, .skipped:
            return nil
        }
    }
}
