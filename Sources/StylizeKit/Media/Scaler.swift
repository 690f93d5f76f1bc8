import CFFmpeg

/// Owns a SwsContext: pixel-format conversion and scaling between two fixed geometries.
final class Scaler {
    let context: OpaquePointer

    /// Area averaging when shrinking (no aliasing on large style images), bicubic otherwise;
    /// accurate rounding and full chroma interpolation for exact colour conversion.
    init(from source: (width: Int, height: Int, format: AVPixelFormat),
         to destination: (width: Int, height: Int, format: AVPixelFormat)) throws {
        let shrinking = destination.width < source.width || destination.height < source.height
        let flags = (shrinking ? SWS_AREA : SWS_BICUBIC) | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
        guard let context = sws_getContext(Int32(source.width), Int32(source.height), source.format,
                                           Int32(destination.width), Int32(destination.height), destination.format,
                                           flags, nil, nil, nil) else {
            throw StylizeError.ffmpeg(call: "sws_getContext", code: 0, text: "cannot convert \(pixelFormatName(source.format)) to \(pixelFormatName(destination.format))")
        }
        self.context = context
    }

    deinit { sws_freeContext(context) }

    /// Converts `height` rows starting at the source planes/strides into the destination planes.
    func scale(source: [UnsafePointer<UInt8>?], sourceStrides: [Int32], height: Int,
               destination: [UnsafeMutablePointer<UInt8>?], destinationStrides: [Int32]) throws {
        let code = sws_scale(context, source, sourceStrides, 0, Int32(height), destination, destinationStrides)
        try ffmpegCheck(code, "sws_scale")
    }
}

func pixelFormatName(_ format: AVPixelFormat) -> String {
    av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "pixel format \(format.rawValue)"
}
