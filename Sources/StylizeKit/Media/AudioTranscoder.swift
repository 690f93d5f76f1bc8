import CFFmpeg

/// Re-encodes one audio stream for a container that cannot hold its codec (AAC for MP4/MOV,
/// Opus for WebM): decode, resample with libswresample, re-chunk to the encoder's frame size
/// (an AVAudioFifo), encode. Timestamps continue from the first packet's, sample-exact.
final class AudioTranscoder {
    let encoder: FrameEncoder
    private let decoder: FrameDecoder
    private let inputTimeBase: AVRational
    private var resampler: OpaquePointer
    /// The input layout, format and rate the resampler was made for.
    private var resamplerInput: (channels: Int32, format: Int32, rate: Int32)
    private let fifo: OpaquePointer
    private let decoded: Frame
    private let packet: Packet
    /// Next output timestamp, in samples (the encoder's time base is 1/sample rate).
    private var nextPTS: Int64?
    /// Writes an encoded packet (timestamps in its `time_base`, the encoder's).
    private let emit: (Packet) throws -> Void

    /// - Parameters:
    ///   - stream: the input audio stream.
    ///   - codec: the encoder: one asked for, or the container's default audio codec's.
    ///   - bitRate: bits per second; nil picks 96 kb/s a channel (Opus: 64), at most two counted.
    init(stream: UnsafeMutablePointer<AVStream>, codec: UnsafePointer<AVCodec>, bitRate: Int? = nil, globalHeader: Bool,
         emit: @escaping (Packet) throws -> Void) throws {
        let codecID = codec.pointee.id
        let parameters = stream.pointee.codecpar!
        guard let decoderCodec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw StylizeError.invalidArgument("no decoder for \(String(cString: avcodec_get_name(parameters.pointee.codec_id))) audio")
        }
        decoder = try FrameDecoder(stream: stream, codec: decoderCodec)
        inputTimeBase = stream.pointee.time_base
        let input = decoder.context.pointee
        let rates = Self.list(codec.pointee.supported_samplerates, end: 0)
        let rate = rates.isEmpty || rates.contains(input.sample_rate) ? input.sample_rate
            : rates.min { abs($0 - input.sample_rate) < abs($1 - input.sample_rate) }!
        let formats = Self.list(codec.pointee.sample_fmts, end: AV_SAMPLE_FMT_NONE)
        let format = formats.first ?? AV_SAMPLE_FMT_FLTP
        var layout = AVChannelLayout()
        if input.ch_layout.nb_channels > 2 && codecID == AV_CODEC_ID_OPUS {
            av_channel_layout_default(&layout, min(input.ch_layout.nb_channels, 8))
        } else if input.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || input.ch_layout.nb_channels == 0 {
            av_channel_layout_default(&layout, max(1, input.ch_layout.nb_channels))
        } else {
            try ffmpegCheck(av_channel_layout_copy(&layout, &decoder.context.pointee.ch_layout), "av_channel_layout_copy")
        }
        defer { av_channel_layout_uninit(&layout) }
        let chosenLayout = layout
        encoder = try FrameEncoder(codec: codec, timeBase: AVRational(num: 1, den: rate)) { context in
            context.pointee.sample_rate = rate
            context.pointee.sample_fmt = format
            var copy = chosenLayout
            av_channel_layout_copy(&context.pointee.ch_layout, &copy)
            context.pointee.bit_rate = bitRate.map(Int64.init) ?? Int64(codecID == AV_CODEC_ID_OPUS ? 64_000 : 96_000) * Int64(min(2, chosenLayout.nb_channels))
            if globalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        }

        decoded = try Frame()
        packet = try Packet()
        var swr = try Self.makeResampler(to: encoder.context, from: decoder.context.pointee.ch_layout,
                                         format: input.sample_fmt, rate: input.sample_rate)
        guard let fifo = av_audio_fifo_alloc(format, encoder.context.pointee.ch_layout.nb_channels, 1) else {
            swr_free(&swr)
            throw StylizeError.ffmpeg(call: "av_audio_fifo_alloc", code: cffmpeg_error_enomem(), text: "out of memory")
        }
        resampler = swr!
        resamplerInput = (input.ch_layout.nb_channels, input.sample_fmt.rawValue, input.sample_rate)
        self.fifo = fifo
        self.emit = emit
    }

    /// A resampler from `layout`/`format`/`rate` to what `encoder` takes; freed here if it
    /// cannot be initialised.
    private static func makeResampler(to encoder: UnsafeMutablePointer<AVCodecContext>, from layout: AVChannelLayout,
                                      format: AVSampleFormat, rate: Int32) throws -> OpaquePointer? {
        var swr: OpaquePointer?
        var inputLayout = layout
        if inputLayout.order == AV_CHANNEL_ORDER_UNSPEC { av_channel_layout_default(&inputLayout, max(1, inputLayout.nb_channels)) }
        try ffmpegCheck(swr_alloc_set_opts2(&swr, &encoder.pointee.ch_layout, encoder.pointee.sample_fmt, encoder.pointee.sample_rate,
                                            &inputLayout, format, rate, 0, nil), "swr_alloc_set_opts2")
        let code = swr_init(swr)
        if code < 0 {
            swr_free(&swr)
            try ffmpegCheck(code, "swr_init")
        }
        return swr
    }

    deinit {
        var swr: OpaquePointer? = resampler
        swr_free(&swr)
        av_audio_fifo_free(fifo)
    }

    private static func list<T: Equatable>(_ pointer: UnsafePointer<T>?, end: T) -> [T] {
        guard var p = pointer else { return [] }
        var values: [T] = []
        while p.pointee != end { values.append(p.pointee); p += 1 }
        return values
    }

    var codecName: String { String(cString: encoder.context.pointee.codec.pointee.name) }

    /// Decodes `input` (timestamps in the input stream's time base) and encodes what is ready.
    func transcode(_ input: Packet) throws {
        if nextPTS == nil, input.pointer.pointee.pts != cffmpeg_nopts_value() {
            nextPTS = av_rescale_q(input.pointer.pointee.pts, inputTimeBase, encoder.context.pointee.time_base)
        }
        do { _ = try decoder.send(input) } catch StylizeError.ffmpeg {
            return  // a damaged audio packet costs its samples, not the job
        }
        try drainDecoder()
    }

    /// Flushes decoder, resampler and fifo into the encoder, then the encoder itself.
    func finish() throws {
        _ = try decoder.send(nil)
        try drainDecoder()
        let rest = try Frame()
        try resample(nil, into: rest)
        try encodeFromFifo(flush: true)
        _ = try encoder.send(nil)
        try drainEncoder()
    }

    private func drainDecoder() throws {
        while try decoder.receive(into: decoded) == .produced {
            let converted = try Frame()
            try resample(decoded, into: converted)
            decoded.unref()
            try encodeFromFifo(flush: false)
        }
    }

    /// Resamples `frame` (nil drains the resampler) and queues the samples in the fifo. A
    /// stream whose layout, format or rate changes part-way (broadcast captures do) gets a new
    /// resampler for the new signature.
    private func resample(_ frame: Frame?, into converted: Frame) throws {
        if let f = frame?.pointer.pointee,
           (f.ch_layout.nb_channels, f.format, f.sample_rate) != resamplerInput {
            try resample(nil, into: try Frame())  // drain what the old one holds
            let swr = try Self.makeResampler(to: encoder.context, from: f.ch_layout, format: AVSampleFormat(rawValue: f.format), rate: f.sample_rate)
            var old: OpaquePointer? = resampler
            swr_free(&old)
            resampler = swr!
            resamplerInput = (f.ch_layout.nb_channels, f.format, f.sample_rate)
        }
        let c = encoder.context.pointee
        converted.pointer.pointee.format = c.sample_fmt.rawValue
        converted.pointer.pointee.sample_rate = c.sample_rate
        try ffmpegCheck(av_channel_layout_copy(&converted.pointer.pointee.ch_layout, &encoder.context.pointee.ch_layout), "av_channel_layout_copy")
        let pending = swr_get_delay(resampler, Int64(c.sample_rate))
        let incoming = frame.map { av_rescale_rnd(Int64($0.pointer.pointee.nb_samples), Int64(c.sample_rate), Int64($0.pointer.pointee.sample_rate), AV_ROUND_UP) } ?? 0
        converted.pointer.pointee.nb_samples = Int32(pending + incoming + 32)
        guard converted.pointer.pointee.nb_samples > 0 else { return }
        try ffmpegCheck(av_frame_get_buffer(converted.pointer, 0), "av_frame_get_buffer")
        let count = try ffmpegCheck(swr_convert(resampler, converted.pointer.pointee.extended_data, converted.pointer.pointee.nb_samples,
                                                frame.map { UnsafeMutablePointer(mutating: $0.pointer.pointee.extended_data).withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { $0 } },
                                                frame?.pointer.pointee.nb_samples ?? 0), "swr_convert")
        if count > 0 {
            let written = converted.pointer.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) {
                av_audio_fifo_write(fifo, $0, count)
            }
            try ffmpegCheck(written, "av_audio_fifo_write")
        }
    }

    /// Encodes whole encoder frames from the fifo (and, when flushing, the short last one).
    private func encodeFromFifo(flush: Bool) throws {
        let c = encoder.context.pointee
        let frameSize = c.frame_size > 0 ? c.frame_size : 1024
        while av_audio_fifo_size(fifo) >= frameSize || (flush && av_audio_fifo_size(fifo) > 0) {
            let samples = min(frameSize, av_audio_fifo_size(fifo))
            let frame = try Frame()
            frame.pointer.pointee.nb_samples = samples
            frame.pointer.pointee.format = c.sample_fmt.rawValue
            frame.pointer.pointee.sample_rate = c.sample_rate
            try ffmpegCheck(av_channel_layout_copy(&frame.pointer.pointee.ch_layout, &encoder.context.pointee.ch_layout), "av_channel_layout_copy")
            try ffmpegCheck(av_frame_get_buffer(frame.pointer, 0), "av_frame_get_buffer")
            let read = frame.pointer.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) {
                av_audio_fifo_read(fifo, $0, samples)
            }
            try ffmpegCheck(read, "av_audio_fifo_read")
            frame.pointer.pointee.pts = nextPTS ?? 0
            nextPTS = (nextPTS ?? 0) + Int64(samples)
            _ = try encoder.send(frame)
            try drainEncoder()
        }
    }

    private func drainEncoder() throws {
        while try encoder.receive(into: packet) == .produced {
            packet.pointer.pointee.time_base = encoder.context.pointee.time_base
            try emit(packet)
            packet.unref()
        }
    }
}
