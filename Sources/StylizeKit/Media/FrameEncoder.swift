import CFFmpeg

/// Owns an encoding AVCodecContext.
final class FrameEncoder {
    let context: UnsafeMutablePointer<AVCodecContext>

    /// Opens encoder `name` for `width` x `height` frames of `format`; `configure` sets anything
    /// else (quality, colour range) before the codec opens.
    convenience init(name: String, width: Int, height: Int, format: AVPixelFormat, timeBase: AVRational,
                     configure: (UnsafeMutablePointer<AVCodecContext>) -> Void = { _ in }) throws {
        guard let codec = avcodec_find_encoder_by_name(name) else {
            throw StylizeError.ffmpeg(call: "avcodec_find_encoder_by_name", code: 0, text: "this FFmpeg has no \(name) encoder")
        }
        try self.init(codec: codec, timeBase: timeBase) { context in
            context.pointee.width = Int32(width)
            context.pointee.height = Int32(height)
            context.pointee.pix_fmt = format
            configure(context)
        }
    }

    /// Opens `codec` with `timeBase`; `configure` sets everything else before it opens.
    init(codec: UnsafePointer<AVCodec>, timeBase: AVRational, configure: (UnsafeMutablePointer<AVCodecContext>) -> Void) throws {
        FFmpegLogging.applyDefault()
        guard let context = avcodec_alloc_context3(codec) else {
            throw StylizeError.ffmpeg(call: "avcodec_alloc_context3", code: cffmpeg_error_enomem(), text: "out of memory")
        }
        self.context = context
        context.pointee.time_base = timeBase
        configure(context)
        // Thrown with `context` set, so deinit frees it.
        try ffmpegCheck(avcodec_open2(context, codec, nil), "avcodec_open2(\(String(cString: codec.pointee.name)))")
    }

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&context)
    }

    /// Sends one frame, or nil to start draining.
    func send(_ frame: Frame?) throws -> PumpResult {
        let code = avcodec_send_frame(context, frame?.pointer)
        if code == cffmpeg_error_eagain() { return .needsInput }
        if code == cffmpeg_error_eof() { return .endOfStream }
        try ffmpegCheck(code, "avcodec_send_frame")
        return .produced
    }

    /// Receives the next encoded packet.
    func receive(into packet: Packet) throws -> PumpResult {
        let code = avcodec_receive_packet(context, packet.pointer)
        if code == cffmpeg_error_eagain() { return .needsInput }
        if code == cffmpeg_error_eof() { return .endOfStream }
        try ffmpegCheck(code, "avcodec_receive_packet")
        return .produced
    }
}
