import CFFmpeg
import Foundation

/// Owns an output AVFormatContext and its file. Writes to a temporary file beside the
/// destination and renames it only in `finish()`, so an interrupted or failed job leaves
/// nothing at the destination; `abandon()` (or deinit without `finish()`) removes the
/// temporary file. "-" writes to standard output (no temporary file then).
final class Muxer {
    /// Containers (FFmpeg muxer names) that store a display rotation.
    static let formatsWithRotation: Set<String> = ["mov", "mp4", "ipod", "ismv", "3gp", "3g2", "psp", "f4v"]

    let context: UnsafeMutablePointer<AVFormatContext>
    let destination: String
    private let temporary: String?
    private var headerWritten = false
    private var finished = false

    /// - Parameter formatName: the container (e.g. "matroska", "nut"); nil guesses it from the
    ///   destination's extension, as ffmpeg does.
    init(destination: String, formatName: String?, overwrite: Bool) throws {
        FFmpegLogging.applyDefault()
        FFmpegDevices.register()
        self.destination = destination
        let toStdout = destination == "-"
        let place = Self.place(of: destination)
        if place == .file { try OutputFile.checkWritable(URL(fileURLWithPath: destination), overwrite: overwrite) }
        if place == .device && !FileManager.default.fileExists(atPath: destination) {
            throw StylizeError.unwritable(path: destination, reason: "no such device; a virtual camera needs the v4l2loopback module (modprobe v4l2loopback)")
        }
        guard let format = av_guess_format(formatName ?? Self.defaultFormat(for: destination), place == .file ? destination : nil, nil) else {
            throw StylizeError.invalidArgument(formatName.map { "unknown output format \($0)" }
                ?? "\(destination): cannot tell the container from the extension; name the output container")
        }
        if place == .file { OutputFile.removeStaleTemporaries(for: URL(fileURLWithPath: destination)) }
        temporary = place == .file ? OutputFile.temporaryURL(for: URL(fileURLWithPath: destination)).path : nil
        let target = toStdout ? "pipe:1" : temporary ?? destination
        var context: UnsafeMutablePointer<AVFormatContext>?
        try ffmpegCheck(avformat_alloc_output_context2(&context, format, nil, target), "avformat_alloc_output_context2")
        self.context = context!
        if format.pointee.flags & AVFMT_NOFILE == 0 {
            let code = avio_open(&self.context.pointee.pb, target, AVIO_FLAG_WRITE)
            // Thrown after every property is set, so deinit frees the context.
            if code < 0 { throw StylizeError.unwritable(path: destination, reason: ffmpegErrorText(code)) }
        }
    }

    /// Where a destination writes: a file (through a temporary file beside it), a stream
    /// (standard output, or a network URL such as udp://, srt://, rtmp://) or a v4l2 output
    /// device (/dev/videoN); streams and devices are written in place.
    enum Place { case file, stream, device }

    static func place(of destination: String) -> Place {
        if destination == "-" || destination.contains("://") { return .stream }
        return destination.hasPrefix("/dev/video") ? .device : .file
    }

    /// The container a stream or device takes when none is named: MPEG-TS for UDP, TCP, SRT and
    /// RIST, FLV for RTMP, RTSP's own, and v4l2 for a device.
    static func defaultFormat(for destination: String) -> String? {
        if place(of: destination) == .device { return "v4l2" }
        guard let scheme = destination.split(separator: ":").first.map({ $0.lowercased() }), destination.contains("://") else { return nil }
        return ["udp": "mpegts", "tcp": "mpegts", "srt": "mpegts", "rist": "mpegts", "rtmp": "flv", "rtmps": "flv", "rtsp": "rtsp"][scheme]
    }

    deinit {
        if !finished { abandon() }
        if context.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&context.pointee.pb) }
        avformat_free_context(context)
    }

    var format: UnsafePointer<AVOutputFormat> { context.pointee.oformat }

    /// Whether the container can hold `codec` without re-encoding. A container FFmpeg keeps no
    /// list for (MPEG-TS) is taken to hold any video or audio codec where it holds that kind of
    /// stream at all; its header then takes or refuses the stream.
    func accepts(_ codec: AVCodecID) -> Bool {
        let answer = avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL)
        if answer >= 0 { return answer == 1 }
        switch avcodec_get_type(codec) {
        case AVMEDIA_TYPE_VIDEO: return format.pointee.video_codec != AV_CODEC_ID_NONE
        case AVMEDIA_TYPE_AUDIO: return format.pointee.audio_codec != AV_CODEC_ID_NONE
        default: return false
        }
    }

    /// Whether encoders must put their global headers in extradata for this container.
    var wantsGlobalHeader: Bool { format.pointee.flags & AVFMT_GLOBALHEADER != 0 }

    func addStream() throws -> UnsafeMutablePointer<AVStream> {
        guard let stream = avformat_new_stream(context, nil) else {
            throw StylizeError.ffmpeg(call: "avformat_new_stream", code: cffmpeg_error_enomem(), text: "out of memory")
        }
        return stream
    }

    func writeHeader() throws {
        // MP4 and MOV write their index after the media and seek back to it, which a pipe
        // cannot do: to standard output they are fragmented (an index per fragment), as
        // ffmpeg's -movflags frag_keyframe+empty_moov writes them.
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        if destination == "-" && Muxer.formatsWithRotation.contains(String(cString: format.pointee.name)) {
            av_dict_set(&options, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0)
        }
        try ffmpegCheck(avformat_write_header(context, &options), "avformat_write_header(\(destination))")
        headerWritten = true
    }

    /// Writes a packet whose timestamps are in `timeBase` to stream `index` (interleaved by dts).
    func write(_ packet: Packet, stream index: Int32, timeBase: AVRational) throws {
        packet.pointer.pointee.stream_index = index
        av_packet_rescale_ts(packet.pointer, timeBase, context.pointee.streams[Int(index)]!.pointee.time_base)
        try ffmpegCheck(av_interleaved_write_frame(context, packet.pointer), "av_interleaved_write_frame(\(destination))")
    }

    /// Writes the trailer, closes the file and moves it to the destination.
    func finish() throws {
        if headerWritten { try ffmpegCheck(av_write_trailer(context), "av_write_trailer(\(destination))") }
        if format.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&context.pointee.pb) }
        if let temporary, rename(temporary, destination) != 0 {
            let reason = String(cString: strerror(errno))
            abandon()
            throw StylizeError.unwritable(path: destination, reason: reason)
        }
        finished = true
    }

    /// Removes the temporary file; the destination is left as it was.
    func abandon() {
        if format.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&context.pointee.pb) }
        if let temporary { unlink(temporary) }
        finished = true
    }
}
