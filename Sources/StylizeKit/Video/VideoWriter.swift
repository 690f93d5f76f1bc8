import CFFmpeg
import Foundation

/// Metadata keys of a piece (`JobOptions.frames`) that `join` reads.
enum PieceTags {
    /// "A..B": the frames the piece holds.
    static let frames = "stylize_frames"
    /// The settings it was made with (`JobOptions.pieceSignature`).
    static let options = "stylize_options"
}

/// Encodes the stylized frames and muxes them with the streams copied from the input.
///
/// The video encoder follows the container the way ffmpeg does (H.264 via libx264 in
/// .mp4/.mov/.mkv, VP9 in .webm), with H.264 instead of an outdated default (MPEG-4 Part 2 in
/// NUT and AVI), unless a codec is named; 4:2:0 for wide playability. Frame
/// rate, every frame's timestamp, sample aspect ratio, display rotation, colour tags and
/// metadata are carried over from the input.
final class VideoWriter {
    let muxer: Muxer
    let encoder: FrameEncoder
    /// Size and pixel format the worker must deliver frames in.
    let width: Int, height: Int
    let pixelFormat: AVPixelFormat
    let colors: VideoColors
    let codecName: String
    /// Clockwise turn the workers apply to the pixels: the input's display rotation, for
    /// containers that cannot store it (only the MP4/MOV family can, in FFmpeg 5.1).
    let pixelRotation: Int
    /// The input's display rotation (clockwise), as a player shows it.
    let displayRotation: Int
    /// One line per input stream: copied, or left out and why.
    private(set) var notes: [String] = []
    /// The input's audio and subtitles, when there is an input reader.
    private var companions: CompanionStreams?
    private let packet: Packet
    /// Time base of the frames' timestamps as they arrive; the encoder's may differ (fallback).
    private let frameTimeBase: AVRational
    private var lastPTS: Int64?

    /// What the writer needs to know of the video it will encode.
    struct VideoDescription {
        var width: Int, height: Int
        /// Time base of the frames' timestamps.
        var timeBase: AVRational
        var frameRate: AVRational
        var sampleAspectRatio: AVRational
        var colors: VideoColors
        /// The clockwise turn a player applies (from the input's display matrix).
        var rotation: Int
        /// Where the frames come from (for the summary).
        var sourceCodec: String
        /// The input stream, whose metadata, disposition and side data are carried over.
        var stream: UnsafeMutablePointer<AVStream>?

        /// The description of a demuxed input's video stream.
        init(_ reader: VideoReader) {
            self.init(reader.videoStream, in: reader.demuxer)
        }

        /// The description of `stream` of `demuxer`'s input.
        init(_ stream: UnsafeMutablePointer<AVStream>, in demuxer: Demuxer) {
            let parameters = stream.pointee.codecpar.pointee
            width = Int(parameters.width)
            height = Int(parameters.height)
            timeBase = stream.pointee.time_base
            frameRate = av_guess_frame_rate(demuxer.context, stream, nil)
            sampleAspectRatio = parameters.sample_aspect_ratio.num > 0 ? parameters.sample_aspect_ratio : stream.pointee.sample_aspect_ratio
            colors = VideoColors(matrix: parameters.color_space, range: parameters.color_range,
                                 primaries: parameters.color_primaries, transfer: parameters.color_trc, height: height)
            rotation = VideoWriter.displayRotation(of: stream)
            sourceCodec = String(cString: avcodec_get_name(parameters.codec_id))
            self.stream = stream
        }

        init(width: Int, height: Int, frameRate: AVRational, colors: VideoColors, sourceCodec: String) {
            self.width = width
            self.height = height
            timeBase = av_inv_q(frameRate)
            self.frameRate = frameRate
            sampleAspectRatio = AVRational(num: 1, den: 1)
            self.colors = colors
            rotation = 0
            self.sourceCodec = sourceCodec
            stream = nil
        }
    }

    /// - Parameters:
    ///   - reader: the demuxed input whose other streams (audio, subtitles) go along; nil for
    ///     frames that come from elsewhere (an image sequence).
    init(destination: String, video: VideoDescription, reader: VideoReader?, options: JobOptions) throws {
        muxer = try Muxer(destination: destination, formatName: options.outputFormat, overwrite: options.overwrite)
        packet = try Packet()
        frameTimeBase = video.timeBase

        // A piece is encoded as the clip it joins into will be; unnamed, that is H.264 (what
        // .mp4, .mov and .mkv outputs get), whatever container holds the piece itself.
        let codec = try Self.videoEncoder(named: options.codec ?? (options.frames != nil ? "libx264" : nil), for: muxer, destination: destination)
        codecName = String(cString: codec.pointee.name)
        let formats = Self.pixelFormats(of: codec)
        pixelFormat = formats.contains(AV_PIX_FMT_YUV420P) || formats.isEmpty ? AV_PIX_FMT_YUV420P : formats[0]
        let storesRotation = Muxer.formatsWithRotation.contains(String(cString: muxer.format.pointee.name))
        // A piece keeps the pixels as they are: `join` tags the rotation from the source.
        pixelRotation = storesRotation || options.frames != nil ? 0 : video.rotation
        displayRotation = video.rotation
        var (sourceWidth, sourceHeight) = pixelRotation % 180 == 0 ? (video.width, video.height) : (video.height, video.width)
        if let size = options.outputSize {
            // The size asked for is the one a player shows: frames that stay stored turned (the
            // rotation kept as a tag) take it with their sides swapped.
            let upright = video.rotation % 180 == 0 ? (video.width, video.height) : (video.height, video.width)
            let (width, height) = size.resolved(width: upright.0, height: upright.1)
            (sourceWidth, sourceHeight) = video.rotation % 180 != 0 && pixelRotation == 0 ? (height, width) : (width, height)
        }
        // 4:2:0 needs even sides: an odd side loses its last pixel to a slight rescale.
        let subsampled = pixelFormat == AV_PIX_FMT_YUV420P
        width = subsampled ? sourceWidth & ~1 : sourceWidth
        height = subsampled ? sourceHeight & ~1 : sourceHeight
        guard width > 0, height > 0 else { throw StylizeError.invalidArgument("the video has no size") }

        let frameRate = video.frameRate
        var tags = video.colors
        if isRGB(pixelFormat) {
            // An RGB encoder (libx264rgb, FFV1 or PNG in RGB): tagged as RGB, or decoders read
            // its planes as YUV.
            tags.matrix = AVCOL_SPC_RGB
            tags.range = AVCOL_RANGE_JPEG
        }
        colors = tags
        let configure = try EncoderSettings(codec: codec, options: options).configuration(
            frameRate: video.frameRate, sampleAspect: video.sampleAspectRatio, colors: tags, globalHeader: muxer.wantsGlobalHeader,
            threads: options.codecThreads(width: width, height: height), lowLatency: options.lowLatency)
        if options.lowLatency {
            // Each packet goes out as soon as it is muxed, with no wait for other streams.
            muxer.context.pointee.flags |= AVFMT_FLAG_FLUSH_PACKETS
            muxer.context.pointee.max_interleave_delta = 0
        }
        do {
            // The input's own time base keeps every timestamp exact (variable frame rate too).
            encoder = try FrameEncoder(name: codecName, width: width, height: height, format: pixelFormat,
                                       timeBase: video.timeBase, configure: configure)
        } catch {
            // Some encoders (MPEG-4 Part 2, ...) cap the time base; fall back to 1/frame rate.
            guard frameRate.num > 0 else { throw error }
            encoder = try FrameEncoder(name: codecName, width: width, height: height, format: pixelFormat,
                                       timeBase: av_inv_q(frameRate), configure: configure)
        }

        try addVideoStream(video)
        try addOtherStreams(from: reader, options: options)
        try muxer.writeHeader()
    }

    /// The video stream: the encoder's parameters, the input's rate and aspect, and its
    /// disposition, metadata and side data (a display rotation only where it was not applied).
    private func addVideoStream(_ video: VideoDescription) throws {
        let videoOut = try muxer.addStream()
        try ffmpegCheck(avcodec_parameters_from_context(videoOut.pointee.codecpar, encoder.context), "avcodec_parameters_from_context")
        videoOut.pointee.time_base = encoder.context.pointee.time_base
        videoOut.pointee.avg_frame_rate = video.frameRate
        videoOut.pointee.r_frame_rate = video.frameRate
        videoOut.pointee.sample_aspect_ratio = video.sampleAspectRatio
        if let input = video.stream {
            videoOut.pointee.disposition = input.pointee.disposition
            av_dict_copy(&videoOut.pointee.metadata, input.pointee.metadata, 0)
            try Self.copySideData(from: input, to: videoOut, skipping: pixelRotation != 0 ? [AV_PKT_DATA_DISPLAYMATRIX.rawValue] : [])
        }
        notes.append("video: \(video.sourceCodec) -> \(codecName) \(width)x\(height)"
                     + (pixelRotation != 0 ? ", turned \(pixelRotation) degrees (the container cannot store rotation)" : ""))
    }

    /// The input's other streams (none for a piece: `join` takes them from the source), its
    /// metadata, and a piece's tags.
    private func addOtherStreams(from reader: VideoReader?, options: JobOptions) throws {
        if let reader {
            av_dict_copy(&muxer.context.pointee.metadata, reader.demuxer.context.pointee.metadata, 0)
            let companions = try CompanionStreams(from: reader, into: muxer, audio: options.audio)
            notes += companions.notes
            self.companions = companions
        }
        if let frames = options.frames {
            av_dict_set(&muxer.context.pointee.metadata, PieceTags.frames, "\(frames.lowerBound)..\(frames.upperBound)", 0)
            av_dict_set(&muxer.context.pointee.metadata, PieceTags.options, options.pieceSignature ?? "", 0)
        }
    }

    /// Codecs that containers name as their default but that look poor at any sensible size
    /// (MPEG-4 Part 2 in NUT and AVI, ...): H.264 goes there instead, as it does in MP4.
    static let outdatedDefaults: Set<UInt32> = [AV_CODEC_ID_MPEG4, AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO,
                                                AV_CODEC_ID_MSMPEG4V3, AV_CODEC_ID_FLV1, AV_CODEC_ID_H263].reduce(into: []) { $0.insert($1.rawValue) }

    /// The encoder `name` names, or the container's when it is nil; it must fit the container.
    static func videoEncoder(named name: String?, for muxer: Muxer, destination: String) throws -> UnsafePointer<AVCodec> {
        let codec: UnsafePointer<AVCodec>
        if let name {
            guard let found = avcodec_find_encoder_by_name(name), found.pointee.type == AVMEDIA_TYPE_VIDEO else {
                throw StylizeError.invalidArgument("no video encoder named \(name) in this FFmpeg")
            }
            codec = found
        } else {
            guard let found = defaultEncoder(for: muxer) else {
                throw StylizeError.invalidArgument("\(destination): this container has no video encoder here; name a video codec")
            }
            codec = found
        }
        guard muxer.accepts(codec.pointee.id) else {
            throw StylizeError.invalidArgument("\(String(cString: codec.pointee.name)) video cannot go into \(String(cString: muxer.format.pointee.name)); choose another video codec or container")
        }
        return codec
    }

    /// The encoder for a container when none is named: its own preferred codec's, or libx264
    /// where that codec is an outdated one and the container holds H.264.
    static func defaultEncoder(for muxer: Muxer) -> UnsafePointer<AVCodec>? {
        let preferred = muxer.format.pointee.video_codec
        if outdatedDefaults.contains(preferred.rawValue), muxer.accepts(AV_CODEC_ID_H264), let x264 = avcodec_find_encoder_by_name("libx264") {
            return x264
        }
        return avcodec_find_encoder(preferred)
    }


    private static func pixelFormats(of codec: UnsafePointer<AVCodec>) -> [AVPixelFormat] {
        guard var p = codec.pointee.pix_fmts else { return [] }
        var formats: [AVPixelFormat] = []
        while p.pointee != AV_PIX_FMT_NONE { formats.append(p.pointee); p += 1 }
        return formats
    }


    /// The clockwise turn a player applies to show the stream upright (0, 90, 180 or 270).
    static func displayRotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size: Int = 0
        guard let matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else { return 0 }
        let degrees = matrix.withMemoryRebound(to: Int32.self, capacity: 9) { av_display_rotation_get($0) }
        guard degrees.isFinite else { return 0 }
        // av_display_rotation_get is counter-clockwise; round to quarter turns.
        return ((Int((-degrees / 90).rounded()) % 4 + 4) % 4) * 90
    }

    static func copySideData(from input: UnsafeMutablePointer<AVStream>, to output: UnsafeMutablePointer<AVStream>,
                                     skipping: Set<UInt32>) throws {
        for i in 0..<Int(input.pointee.nb_side_data) {
            let side = input.pointee.side_data[i]
            if skipping.contains(side.type.rawValue) { continue }
            guard let target = av_stream_new_side_data(output, side.type, side.size) else {
                throw StylizeError.ffmpeg(call: "av_stream_new_side_data", code: cffmpeg_error_enomem(), text: "out of memory")
            }
            target.update(from: side.data, count: Int(side.size))
        }
    }

    /// Encodes a stylized frame (frames come in order).
    func write(_ frame: Frame) throws {
        // Into the encoder's time base; a coarser one may merge timestamps, which must still rise.
        var pts = av_rescale_q(frame.pointer.pointee.pts, frameTimeBase, encoder.context.pointee.time_base)
        if let lastPTS, pts <= lastPTS { pts = lastPTS + 1 }
        lastPTS = pts
        frame.pointer.pointee.pts = pts
        frame.pointer.pointee.pict_type = AV_PICTURE_TYPE_NONE
        _ = try encoder.send(frame)
        try drainEncoder()
    }

    /// Copies a packet of another stream of the input.
    func write(_ packet: Packet, stream: Int32) throws {
        try companions?.write(packet, stream: stream)
    }

    private func drainEncoder() throws {
        while try encoder.receive(into: packet) == .produced {
            try muxer.write(packet, stream: 0, timeBase: encoder.context.pointee.time_base)
            packet.unref()
        }
    }

    /// Flushes the encoder, writes the trailer and moves the file into place.
    func finish() throws {
        _ = try encoder.send(nil)
        try drainEncoder()
        try companions?.finish()
        try muxer.finish()
    }
}
