import CFFmpeg

/// Converts between decoded frames (any pixel format, any size) and the networks' RGB floats,
/// scaling on the way when asked. Keeps its swscale contexts for the geometries it has seen, so
/// a worker converting frame after frame of one clip builds them once. Not thread-safe: one per
/// worker.
final class FrameConverter {
    private struct Geometry: Hashable {
        var sourceWidth: Int, sourceHeight: Int, sourceFormat: Int32
        var width: Int, height: Int, format: Int32
        /// The YUV side's matrix (AVColorSpace) and range (AVColorRange).
        var matrix: UInt32, range: UInt32
    }

    private var scalers: [Geometry: Scaler] = [:]
    private var rgb: [UInt8] = []

    /// A cached scaler; `colors` describes whichever side is YUV (`yuvIsSource`).
    private func scaler(from source: (Int, Int, AVPixelFormat), to destination: (Int, Int, AVPixelFormat),
                        colors: VideoColors, yuvIsSource: Bool) throws -> Scaler {
        let key = Geometry(sourceWidth: source.0, sourceHeight: source.1, sourceFormat: source.2.rawValue,
                           width: destination.0, height: destination.1, format: destination.2.rawValue,
                           matrix: colors.matrix.rawValue, range: colors.range.rawValue)
        if let scaler = scalers[key] { return scaler }
        let scaler = try Scaler(from: source, to: destination)
        let details = Scaler.ColorDetails(matrix: colors.matrix, fullRange: colors.fullRange)
        try scaler.setColorDetails(source: yuvIsSource ? details : .init(), destination: yuvIsSource ? .init() : details)
        scalers[key] = scaler
        return scaler
    }

    /// The frame as network input at `width` x `height`: through 8-bit RGB for sources of up to
    /// 8 bits (exact v / 255), through 16-bit RGB for deeper ones.
    func rgbImage(from frame: Frame, width: Int, height: Int) throws -> RGBImage {
        let depth = av_pix_fmt_desc_get(frame.format).map { Int($0.pointee.comp.0.depth) } ?? 8
        let deep = depth > 8
        let format = deep ? AV_PIX_FMT_RGB48LE : AV_PIX_FMT_RGB24
        let bytes = deep ? 6 : 3
        let scaler = try scaler(from: (frame.width, frame.height, frame.format), to: (width, height, format),
                                colors: VideoColors(of: frame), yuvIsSource: true)
        let count = width * height * bytes
        if rgb.count != count { rgb = [UInt8](repeating: 0, count: count) }
        let f = frame.pointer.pointee
        try rgb.withUnsafeMutableBufferPointer { out in
            try scaler.scale(source: [f.data.0, f.data.1, f.data.2, f.data.3].map { $0.map { UnsafePointer($0) } },
                             sourceStrides: [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3], height: frame.height,
                             destination: [out.baseAddress, nil, nil, nil], destinationStrides: [Int32(width * bytes), 0, 0, 0])
        }
        var pixels = [Float](repeating: 0, count: width * height * 3)
        rgb.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { out in
                if deep {
                    for i in 0..<out.count {
                        out[i] = Float(UInt16(source[2 * i]) | UInt16(source[2 * i + 1]) << 8) / 65535
                    }
                } else {
                    for i in 0..<out.count { out[i] = Float(source[i]) / 255 }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// A new frame of `format` at `width` x `height` holding `image` (values clamped to [0, 1]),
    /// through 16-bit RGB so that scaling and colour conversion see more than 8 bits.
    func frame(from image: RGBImage, width: Int, height: Int, format: AVPixelFormat, colors: VideoColors) throws -> Frame {
        var deep = [UInt16](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { source in
            deep.withUnsafeMutableBufferPointer { out in
                for i in 0..<out.count { out[i] = UInt16(min(max(source[i], 0), 1) * 65535 + 0.5).littleEndian }
            }
        }
        let frame = try Frame(width: width, height: height, format: format)
        let scaler = try scaler(from: (image.width, image.height, AV_PIX_FMT_RGB48LE), to: (width, height, format),
                                colors: colors, yuvIsSource: false)
        colors.tag(frame)
        let f = frame.pointer.pointee
        try deep.withUnsafeBytes { source in
            try scaler.scale(source: [source.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil, nil],
                             sourceStrides: [Int32(image.width * 6), 0, 0, 0], height: image.height,
                             destination: [f.data.0, f.data.1, f.data.2, f.data.3],
                             destinationStrides: [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3])
        }
        return frame
    }
}

/// How a YUV frame's numbers map to colours: matrix and range, with the same defaults players
/// use when a file does not say (BT.709 from 720 lines up, BT.601 below; limited range).
struct VideoColors: Equatable {
    var matrix: AVColorSpace
    var range: AVColorRange
    var primaries: AVColorPrimaries
    var transfer: AVColorTransferCharacteristic

    var fullRange: Bool? { range == AVCOL_RANGE_JPEG ? true : range == AVCOL_RANGE_MPEG ? false : nil }

    init(matrix: AVColorSpace, range: AVColorRange, primaries: AVColorPrimaries, transfer: AVColorTransferCharacteristic, height: Int) {
        self.matrix = matrix == AVCOL_SPC_UNSPECIFIED || matrix == AVCOL_SPC_RGB ? (height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M) : matrix
        self.range = range
        self.primaries = primaries
        self.transfer = transfer
    }

    init(of frame: Frame) {
        let f = frame.pointer.pointee
        self.init(matrix: f.colorspace, range: f.color_range, primaries: f.color_primaries, transfer: f.color_trc, height: Int(f.height))
    }

    /// Writes these properties into an output frame (the encoder takes them from its context).
    func tag(_ frame: Frame) {
        frame.pointer.pointee.colorspace = matrix
        frame.pointer.pointee.color_range = range == AVCOL_RANGE_UNSPECIFIED ? AVCOL_RANGE_MPEG : range
        frame.pointer.pointee.color_primaries = primaries
        frame.pointer.pointee.color_trc = transfer
    }
}
