import CFFmpeg

/// Owns a decoding AVCodecContext for one stream.
final class FrameDecoder {
    let context: UnsafeMutablePointer<AVCodecContext>

    /// - Parameters:
    ///   - threads: decoding threads; 0 lets FFmpeg choose, 1 decodes on the caller's thread.
    ///   - lowDelay: give each frame out as soon as it is decoded (live sources).
    init(stream: UnsafeMutablePointer<AVStream>, codec: UnsafePointer<AVCodec>, threads: Int = 1, lowDelay: Bool = false) throws {
        FFmpegLogging.applyDefault()
        guard let context = avcodec_alloc_context3(codec) else {
            throw StylizeError.ffmpeg(call: "avcodec_alloc_context3", code: cffmpeg_error_enomem(), text: "out of memory")
        }
        self.context = context
        try ffmpegCheck(avcodec_parameters_to_context(context, stream.pointee.codecpar), "avcodec_parameters_to_context")
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = Int32(threads)
        if lowDelay { context.pointee.flags |= AV_CODEC_FLAG_LOW_DELAY }
        // Refuse frames beyond the picture limits before allocating them.
        context.pointee.max_pixels = Int64(Picture.maximumPixels)
        try ffmpegCheck(avcodec_open2(context, codec, nil), "avcodec_open2(\(String(cString: codec.pointee.name)))")
    }

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&context)
    }

    /// Sends one packet, or nil to start draining.
    func send(_ packet: Packet?) throws -> PumpResult {
        let code = avcodec_send_packet(context, packet?.pointer)
        if code == cffmpeg_error_eagain() { return .needsInput }
        if code == cffmpeg_error_eof() { return .endOfStream }
        try ffmpegCheck(code, "avcodec_send_packet")
        return .produced
    }

    /// Receives the next decoded frame into `frame`.
    func receive(into frame: Frame) throws -> PumpResult {
        let code = avcodec_receive_frame(context, frame.pointer)
        if code == cffmpeg_error_eagain() { return .needsInput }
        if code == cffmpeg_error_eof() { return .endOfStream }
        try ffmpegCheck(code, "avcodec_receive_frame")
        return .produced
    }
}
