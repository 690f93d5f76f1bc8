import Foundation

/// A picture painted in RGB by a worker, still to be steadied: the stylized picture with the
/// motion the stabilizer follows and, where a mask decides where the style goes, the other
/// layer and the mask that blends the two once each is steady.
struct PaintedPicture: Sendable {
    /// What fills a masked picture outside its mask.
    enum Outside: Sendable {
        /// The original picture, as it is.
        case original(Picture)
        /// The picture in the outside's style, steadied on its own.
        case stylized(Handover<RGBImage>)
    }

    var input: TemporalStabilizer.Motion
    var stylized: Handover<RGBImage>
    /// Present when a mask decides where the style goes.
    var masked: (outside: Outside, mask: Frame)? = nil
}

/// The stabilize stage, which sees frames in order: each stylized frame is blended with the
/// previous output moved along the optical flow, in RGB or in the encoder's format, and comes
/// out as the frame to write. Clips and frame sequences share it.
final class StabilizeStage {
    let stabilizer: TemporalStabilizer?
    /// Steadies the outside's style on its own, when a mask gives the rest a second style.
    private let outsideStabilizer: TemporalStabilizer?
    /// The encoder's side; nil for pictures that are written as pictures (a folder of frames).
    private let convert: ConvertStage?
    private let converter = FrameConverter()

    /// `strength` 0 stabilizes nothing: frames pass as the workers finished them.
    /// `stylizedOutside`: a mask gives the rest of each frame a second style, steadied apart.
    init(strength: Double, convert: ConvertStage?, stylizedOutside: Bool = false) {
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
        case .warmup(let painted):
            // Before a piece's first frame: only the stabilizer's state needs it.
            _ = try picture(painted)
            return nil
        case .image(let painted, let pts, let aspect):
            return try encoder().frame(from: picture(painted), pts: pts, aspect: aspect, index: index, converter: converter)
        case .encoded(let input, let frame, let written):
            stabilizer!.stabilize(input, frame: frame)
            guard written else { return nil }
            try encoder().offer(frame, index: index, converter: converter)
            return frame
        case .masked(let input, let frame, let outside, let stylizedOutside, let mask, let written):
            // Each layer is steadied towards its own past; the blend by the mask of the moment
            // comes after, on a copy (the stabilizers keep the layers as they are).
            stabilizer!.stabilize(input, frame: frame)
            if stylizedOutside { outsideStabilizer!.stabilize(input, frame: outside) }
            guard written else { return nil }
            let blended = try frame.copy()
            try RegionBlend.blend(blended, with: outside, mask: mask)
            try encoder().offer(blended, index: index, converter: converter)
            return blended
        case .packet, .skipped:
            return nil
        }
    }

    /// `painted`, steadied; a masked picture has each layer steadied on its own and then
    /// blended by its mask.
    func picture(_ painted: PaintedPicture) throws -> RGBImage {
        let steady = stabilizer!.stabilize(painted.input, stylized: painted.stylized.take())
        guard let (outside, mask) = painted.masked else { return steady }
        let other: Picture
        switch outside {
        case .original(let picture): other = picture
        case .stylized(let layer): other = Picture(outsideStabilizer!.stabilize(painted.input, stylized: layer.take()))
        }
        return try Regions.blend(Picture(steady), outside: other, mask: mask).rgbImage
    }

    /// CPU time the stage's stabilizers spent, in nanoseconds.
    var cpuNanoseconds: UInt64 {
        (stabilizer?.cpuNanoseconds ?? 0) + (outsideStabilizer?.cpuNanoseconds ?? 0)
    }

    private func encoder() throws -> ConvertStage {
        guard let convert else { throw StylizeError.invalidArgument("a stabilize stage that writes pictures was handed a frame") }
        return convert
    }
}
