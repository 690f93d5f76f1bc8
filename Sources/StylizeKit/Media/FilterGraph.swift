import CFFmpeg

/// Owns an AVFilterGraph that takes frames of a fixed size and format through a chain of filters
/// (FFmpeg's doc/examples/filtering_video.c).
final class FilterGraph {
    private let graph: UnsafeMutablePointer<AVFilterGraph>
    private let source: UnsafeMutablePointer<AVFilterContext>
    private let sink: UnsafeMutablePointer<AVFilterContext>

    /// A graph of the filters `description` names, for frames of `width` x `height` in
    /// `format`, that gives frames in `outputFormat` (nil: `format`).
    init(width: Int, height: Int, format: AVPixelFormat, description: String, outputFormat: AVPixelFormat? = nil) throws {
        guard let graph = avfilter_graph_alloc() else {
            throw StylizeError.ffmpeg(call: "avfilter_graph_alloc", code: cffmpeg_error_enomem(), text: "out of memory")
        }
        var source: UnsafeMutablePointer<AVFilterContext>?, sink: UnsafeMutablePointer<AVFilterContext>?
        do {
            let arguments = "video_size=\(width)x\(height):pix_fmt=\(pixelFormatName(format)):time_base=1/1:pixel_aspect=1/1"
            try ffmpegCheck(avfilter_graph_create_filter(&source, avfilter_get_by_name("buffer"), "in", arguments, nil, graph), "buffer source")
            try ffmpegCheck(avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", nil, nil, graph), "buffer sink")
            // The parser consumes the lists it links and leaves the rest in these two variables.
            var outputs = avfilter_inout_alloc(), inputs = avfilter_inout_alloc()
            defer { avfilter_inout_free(&outputs); avfilter_inout_free(&inputs) }
            guard let out = outputs, let into = inputs else {
                throw StylizeError.ffmpeg(call: "avfilter_inout_alloc", code: cffmpeg_error_enomem(), text: "out of memory")
            }
            out.pointee.name = av_strdup("in"); out.pointee.filter_ctx = source; out.pointee.pad_idx = 0; out.pointee.next = nil
            into.pointee.name = av_strdup("out"); into.pointee.filter_ctx = sink; into.pointee.pad_idx = 0; into.pointee.next = nil
            try ffmpegCheck(avfilter_graph_parse_ptr(graph, description + ",format=\(pixelFormatName(outputFormat ?? format))", &inputs, &outputs, nil), "avfilter_graph_parse_ptr")
            try ffmpegCheck(avfilter_graph_config(graph, nil), "avfilter_graph_config")
        } catch {
            var owned: UnsafeMutablePointer<AVFilterGraph>? = graph
            avfilter_graph_free(&owned)
            throw error
        }
        self.graph = graph
        self.source = source!
        self.sink = sink!
    }

    deinit {
        var graph: UnsafeMutablePointer<AVFilterGraph>? = graph
        avfilter_graph_free(&graph)
    }

    /// Runs one frame through the graph, and closes it: for filters that wait for more frames.
    func filter(_ frame: Frame) throws -> Frame {
        try ffmpegCheck(av_buffersrc_add_frame_flags(source, frame.pointer, Int32(AV_BUFFERSRC_FLAG_KEEP_REF)), "av_buffersrc_add_frame_flags")
        try ffmpegCheck(av_buffersrc_add_frame_flags(source, nil, 0), "av_buffersrc_add_frame_flags(end)")
        let output = try Frame()
        try ffmpegCheck(av_buffersink_get_frame(sink, output.pointer), "av_buffersink_get_frame")
        return output
    }

    /// Runs one frame through the graph and keeps it open for the next: for filters that give
    /// each frame's output as it comes in.
    func next(_ frame: Frame) throws -> Frame {
        try ffmpegCheck(av_buffersrc_add_frame_flags(source, frame.pointer, Int32(AV_BUFFERSRC_FLAG_KEEP_REF)), "av_buffersrc_add_frame_flags")
        let output = try Frame()
        try ffmpegCheck(av_buffersink_get_frame(sink, output.pointer), "av_buffersink_get_frame")
        return output
    }
}
