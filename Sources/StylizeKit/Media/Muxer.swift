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
        self.destination = destination
        let toStdout = destination == "-"
        if !toStdout { try OutputFile.checkWritable(URL(fileURLWithPath: destination), overwrite: overwrite) }
        guard let format = av_guess_format(formatName, toStdout ? nil : destination, nil) else {
            throw StylizeError.invalidArgument(formatName.map { "unknown output format \($0)" }
                ?? "\(destination): cannot tell the container from the extension; name the output container")
        }
        if !toStdout { OutputFile.removeStaleTemporaries(for: URL(fileURLWithPath: destination)) }
        temporary = toStdout ? nil : OutputFile.temporaryURL(for: URL(fileURLWithPath: destination)).path
        var context: UnsafeMutablePointer<AVFormatContext>?
        try ffmpegCheck(avformat_alloc_output_context2(&context, format, nil, temporary ?? "pipe:1"), "avformat_alloc_output_context2")
        self.context = context!
        if format.pointee.flags & AVFMT_NOFILE == 0 {
            let code = avio_open(&self.context.pointee.pb, temporary ?? "pipe:1", AVIO_FLAG_WRITE)
            // Thrown after every property is set, so deinit frees the context.
            if code < 0 { throw StylizeError.unwritable(path: destination, reason: ffmpegErrorText(code)) }
        }
    }

    deinit {
        if !finished { abandon() }
        if context.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&context.pointee.pb) }
        avformat_free_context(context)
    }

    var format: UnsafePointer<AVOutputFormat> { context.pointee.oformat }

    /// Whether the container can hold `codec` without re-encoding.
    func accepts(_ codec: AVCodecID) -> Bool {
        avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL) == 1
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
