import CFFmpeg
import Foundation

/// The convert stage: a picture out of the network becomes a frame for the encoder. It is turned
/// as the input's container shows it, converted to the encoder's size, pixel format and colours,
/// and offered to the filmstrip.
struct ConvertStage: Sendable {
    /// The clockwise turn applied to pictures (the input's display rotation).
    let rotation: Int
    /// The clockwise turn from the picture as a player shows it to the encoder's pixels (not 0
    /// where the container keeps the rotation as a tag).
    let uprightTurn: Int
    let width: Int
    let height: Int
    let format: AVPixelFormat
    let colors: VideoColors
    let filmstrip: Filmstrip?

    /// Frames as `writer`'s encoder takes them.
    init(writer: VideoWriter, filmstrip: Filmstrip?) {
        (rotation, width, height, format, colors) = (writer.pixelRotation, writer.width, writer.height, writer.pixelFormat, writer.colors)
        uprightTurn = (360 + writer.pixelRotation - writer.displayRotation) % 360
        self.filmstrip = filmstrip
    }

    /// The size the network paints at before the turn: the encoder's, turned back.
    var unturnedSize: (width: Int, height: Int) { rotation % 180 != 0 ? (height, width) : (width, height) }

    /// The encoder's frame for `stylized` at `pts`, offered to the filmstrip as frame `index`
    /// unless that is nil.
    func frame(from stylized: RGBImage, pts: Int64, aspect: AVRational, index: Int?, converter: FrameConverter) throws -> Frame {
        let turned = stylized.rotated(clockwise: rotation)
        if let index { try filmstrip?.offer(index, turned) }
        let frame = try converter.frame(from: turned, width: width, height: height, format: format, colors: colors)
        frame.pointer.pointee.pts = pts
        frame.pointer.pointee.sample_aspect_ratio = aspect
        return frame
    }

    /// A maker of masks for these frames: keys turned as the pixels are, stored masks (drawn
    /// upright, as a player shows the input) turned to the pixels as stored.
    func maskMaker(_ regions: Regions) -> MaskMaker {
        MaskMaker(regions: regions, width: width, height: height, rotation: rotation, uprightTurn: uprightTurn)
    }

    /// Offers an encoder's frame to the filmstrip as frame `index`, when that is one it keeps.
    func offer(_ frame: Frame, index: Int, converter: FrameConverter) throws {
        guard let filmstrip, filmstrip.targets.contains(index) else { return }
        try filmstrip.offer(index, converter.rgbImage(from: frame, width: frame.width, height: frame.height))
    }
}
