import CFFmpeg
import StylizeFlow

/// The regions' blend of two frames in one pixel format, sample by sample.
enum RegionBlend {
    /// Blends `other` into `frame` in place: each sample keeps mask/255 of its own value and
    /// takes the rest from the same sample of `other`. `mask` is 8-bit grey at the frame's size;
    /// a subsampled chroma sample takes the mean of the mask over the pixels it covers.
    static func blend(_ frame: Frame, with other: Frame, mask: Frame) throws {
        guard let planes = OpticalFlow.planes(of: frame), let others = OpticalFlow.planes(of: other), planes.count == others.count else {
            throw StylizeError.invalidArgument("a mask cannot blend frames in \(pixelFormatName(frame.format)) (only whole samples of 8 to 16 bits)")
        }
        let m = mask.pointer.pointee
        guard m.width == frame.pointer.pointee.width, m.height == frame.pointer.pointee.height,
              stylize_mask_blend_planes(planes, others, Int32(planes.count), m.data.0, m.linesize.0, m.width, m.height) == 0 else {
            throw StylizeError.invalidArgument("a mask's frames differ in shape from the frames it blends")
        }
    }

    /// Whether frames in `format` can be blended: whole samples of 8 to 16 bits, not palettes
    /// or bit fields.
    static func blends(_ format: AVPixelFormat) -> Bool {
        guard let frame = try? Frame(width: 2, height: 2, format: format) else { return false }
        return OpticalFlow.planes(of: frame) != nil
    }
}
