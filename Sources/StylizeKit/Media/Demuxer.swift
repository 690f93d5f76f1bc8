import CFFmpeg

/// Owns an input AVFormatContext: a container (or a still image) opened for reading.
final class Demuxer {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String

    /// Opens `path` ("-" reads standard input); `formatName` forces a container (needed for
    /// pipes of formats that cannot be probed, and for image sequences: "image2").
    init(path: String, formatName: String? = nil, options: [String: String] = [:]) throws {
        FFmpegLogging.applyDefault()
        var format: UnsafePointer<AVInputFormat>?
        if let formatName {
            guard let found = av_find_input_format(formatName) else { throw StylizeError.invalidArgument("unknown input format \(formatName)") }
            format = found
        }
        var dictionary: OpaquePointer?
        defer { av_dict_free(&dictionary) }
        for (key, value) in options { av_dict_set(&dictionary, key, value, 0) }
        var context: UnsafeMutablePointer<AVFormatContext>?
        let code = avformat_open_input(&context, path == "-" ? "pipe:0" : path, format, &dictionary)
        guard code >= 0, let context else {
            if code == -ENOENT { throw StylizeError.fileNotFound(path) }
            throw StylizeError.unreadable(path: path, reason: "not a readable image or media file (\(ffmpegErrorText(code)))")
        }
        self.context = context
        self.path = path
        let info = avformat_find_stream_info(context, nil)
        if info < 0 {
            throw StylizeError.unreadable(path: path, reason: "cannot read stream information (\(ffmpegErrorText(info)))")
        }
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&context)
    }

    /// The index of the best video stream and its decoder.
    func bestVideoStream() throws -> (index: Int32, codec: UnsafePointer<AVCodec>) {
        var codec: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        guard index >= 0, let codec else {
            throw StylizeError.unreadable(path: path, reason: "no picture in this file")
        }
        return (index, codec)
    }

    func stream(_ index: Int32) -> UnsafeMutablePointer<AVStream> {
        context.pointee.streams[Int(index)]!
    }

    /// Reads the next packet into `packet`; false at the end of the file.
    func read(into packet: Packet) throws -> Bool {
        let code = av_read_frame(context, packet.pointer)
        if code == cffmpeg_error_eof() { return false }
        try ffmpegCheck(code, "av_read_frame(\(path))")
        return true
    }
}
