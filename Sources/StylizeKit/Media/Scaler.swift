import CFFmpeg

/// Owns a SwsContext: pixel-format conversion and scaling between two fixed geometries.
final class Scaler {
    let context: OpaquePointer

    /// Area averaging when shrinking (no aliasing on large style images), bicubic otherwise;
    /// accurate rounding and full chroma interpolation for exact colour conversion.
    init(from source: (width: Int, height: Int, format: AVPixelFormat),
         to destination: (width: Int, height: Int, format: AVPixelFormat)) throws {
        FFmpegLogging.applyDefault()
        let shrinking = destination.width < source.width || destination.height < source.height
        let flags = (shrinking ? SWS_AREA : SWS_BICUBIC) | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
        let (sourceFormat, sourceFullRange) = Self.withoutJPEGRange(source.format)
        let (destinationFormat, destinationFullRange) = Self.withoutJPEGRange(destination.format)
        guard let context = sws_getContext(Int32(source.width), Int32(source.height), sourceFormat,
                                           Int32(destination.width), Int32(destination.height), destinationFormat,
                                           flags, nil, nil, nil) else {
            throw StylizeError.ffmpeg(call: "sws_getContext", code: 0, text: "cannot convert \(pixelFormatName(source.format)) to \(pixelFormatName(destination.format))")
        }
        self.context = context
        if sourceFullRange || destinationFullRange {
            try setColorDetails(source: ColorDetails(fullRange: sourceFullRange ? true : nil),
                                destination: ColorDetails(fullRange: destinationFullRange ? true : nil))
        }
    }

    /// YUV matrix and range of one side of a conversion; nil keeps swscale's current choice.
    struct ColorDetails {
        /// An AVColorSpace value (BT.601, BT.709, BT.2020, ...).
        var matrix: AVColorSpace?
        /// Full (JPEG) rather than limited (TV) range.
        var fullRange: Bool?
    }

    /// Sets the YUV matrices and ranges used on either side; a no-op for RGB-to-RGB conversions.
    func setColorDetails(source: ColorDetails, destination: ColorDetails) throws {
        var inverseTable: UnsafeMutablePointer<Int32>?, table: UnsafeMutablePointer<Int32>?
        var sourceRange: Int32 = 0, destinationRange: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        guard sws_getColorspaceDetails(context, &inverseTable, &sourceRange, &table, &destinationRange,
                                       &brightness, &contrast, &saturation) >= 0 else { return }
        let sourceTable = source.matrix.map { UnsafeMutablePointer(mutating: sws_getCoefficients(Int32($0.rawValue))) } ?? inverseTable
        let destinationTable = destination.matrix.map { UnsafeMutablePointer(mutating: sws_getCoefficients(Int32($0.rawValue))) } ?? table
        try ffmpegCheck(sws_setColorspaceDetails(context, sourceTable, source.fullRange.map { $0 ? 1 : 0 } ?? sourceRange,
                                                 destinationTable, destination.fullRange.map { $0 ? 1 : 0 } ?? destinationRange,
                                                 brightness, contrast, saturation),
                        "sws_setColorspaceDetails")
    }

    /// The deprecated full-range "yuvj" formats (JPEG) as their plain YUV layout plus a
    /// full-range flag, which is how swscale wants them.
    private static func withoutJPEGRange(_ format: AVPixelFormat) -> (AVPixelFormat, Bool) {
        switch format {
        case AV_PIX_FMT_YUVJ420P: return (AV_PIX_FMT_YUV420P, true)
        case AV_PIX_FMT_YUVJ422P: return (AV_PIX_FMT_YUV422P, true)
        case AV_PIX_FMT_YUVJ444P: return (AV_PIX_FMT_YUV444P, true)
        case AV_PIX_FMT_YUVJ440P: return (AV_PIX_FMT_YUV440P, true)
        case AV_PIX_FMT_YUVJ411P: return (AV_PIX_FMT_YUV411P, true)
        default: return (format, false)
        }
    }

    deinit { sws_freeContext(context) }

    /// Converts `height` source rows, the whole picture or (with `sliceY`, slices given top to
    /// bottom) its rows from `sliceY` on, into the destination planes.
    func scale(source: [UnsafePointer<UInt8>?], sourceStrides: [Int32], height: Int, sliceY: Int = 0,
               destination: [UnsafeMutablePointer<UInt8>?], destinationStrides: [Int32]) throws {
        let code = sws_scale(context, source, sourceStrides, Int32(sliceY), Int32(height), destination, destinationStrides)
        try ffmpegCheck(code, "sws_scale")
    }
}

/// Whether `format` holds RGB (packed or planar) rather than YUV or grey.
func isRGB(_ format: AVPixelFormat) -> Bool {
    guard let descriptor = av_pix_fmt_desc_get(format) else { return false }
    return descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) != 0
}

func pixelFormatName(_ format: AVPixelFormat) -> String {
    av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "pixel format \(format.rawValue)"
}
