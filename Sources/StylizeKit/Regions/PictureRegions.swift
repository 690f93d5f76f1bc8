import CFFmpeg
import StylizeFlow

extension Regions {
    /// `painted` (the picture in the job's style) where the mask takes the style, and `outside`
    /// (the original, or the picture in the outside's style) where it does not, blended in the
    /// picture's own 16-bit RGB. The mask is `stored` (as `MaskReader` read it), or keyed from
    /// `original`.
    func blend(_ painted: Picture, outside: Picture, original: Picture, stored: Frame?) throws -> Picture {
        try Self.blend(painted, outside: outside, mask: maskFrame(for: original, width: painted.width, height: painted.height, stored: stored))
    }

    /// `painted` where `mask` (a gray frame at the pictures' size) takes the style, and `outside`
    /// where it does not.
    static func blend(_ painted: Picture, outside: Picture, mask: Frame) throws -> Picture {
        guard painted.width == outside.width, painted.height == outside.height else {
            throw StylizeError.invalidArgument("a masked picture and its outside differ in size")
        }
        var blended = painted.samples
        let other = outside.samples
        let m = mask.pointer.pointee
        let result = blended.withUnsafeMutableBytes { into in
            other.withUnsafeBytes { from in
                var planes = [plane(into.baseAddress!, painted), plane(UnsafeMutableRawPointer(mutating: from.baseAddress!), painted)]
                return stylize_mask_blend_planes(&planes[0], &planes[1], 1, m.data.0, m.linesize.0, m.width, m.height)
            }
        }
        guard result == 0 else { throw StylizeError.invalidArgument("a mask's frames differ in shape from the pictures it blends") }
        return Picture(width: painted.width, height: painted.height, samples: blended)
    }

    /// The mask for `picture` at its own size, as values.
    func mask(for picture: Picture, stored: Frame?) throws -> RegionMask {
        let frame = try maskFrame(for: picture, width: picture.width, height: picture.height, stored: stored)
        let f = frame.pointer.pointee
        var values = [UInt8](repeating: 0, count: picture.width * picture.height)
        for y in 0..<picture.height {
            for x in 0..<picture.width { values[y * picture.width + x] = f.data.0![y * Int(f.linesize.0) + x] }
        }
        return try RegionMask(width: picture.width, height: picture.height, values: values)
    }

    /// The mask frame at `width` x `height`: `stored`, or keyed from `original`.
    func maskFrame(for original: Picture, width: Int, height: Int, stored: Frame?) throws -> Frame {
        try MaskMaker(regions: self, width: width, height: height, rotation: 0).mask(for: original.rgb48Frame(), stored: stored)
    }

    /// A picture's samples as one plane of three 16-bit channels.
    private static func plane(_ data: UnsafeMutableRawPointer, _ picture: Picture) -> stylize_plane {
        stylize_plane(data: data.assumingMemoryBound(to: UInt8.self), linesize: Int32(picture.width * 6), width: Int32(picture.width),
                      height: Int32(picture.height), channels: 3, bytes: 2, maximum: 65535, weight: 1)
    }
}
