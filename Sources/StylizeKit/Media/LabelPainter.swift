import CFFmpeg
import Foundation

/// Writes text onto pictures with libavfilter's drawtext filter (FreeType) and a TrueType font
/// from the system (DejaVu Sans, Debian's fonts-dejavu-core).
enum LabelPainter {
    /// One piece of text and where its top-left corner goes.
    struct Label: Sendable {
        var text: String
        var x: Int, y: Int
        var size: Int

        init(_ text: String, x: Int, y: Int, size: Int = 18) {
            self.text = text
            self.x = x
            self.y = y
            self.size = size
        }
    }

    /// Fonts tried in order.
    static let fontCandidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ]

    static func font() throws -> String {
        guard let font = fontCandidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw StylizeError.invalidArgument("no font for labels (looked for DejaVu Sans): apt-get install fonts-dejavu-core")
        }
        return font
    }

    /// `picture` with `labels` drawn on it in white.
    static func paint(_ labels: [Label], on picture: Picture) throws -> Picture {
        guard !labels.isEmpty else { return picture }
        let font = try font()
        // Each text goes through a file (textfile=), so no text needs the filter graph's escaping.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stylize-labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var chain: [String] = []
        for (i, label) in labels.enumerated() {
            let file = folder.appendingPathComponent("\(i).txt")
            try label.text.write(to: file, atomically: true, encoding: .utf8)
            chain.append("drawtext=fontfile=\(font):textfile=\(file.path):expansion=none:x=\(label.x):y=\(label.y):fontsize=\(label.size):fontcolor=white")
        }
        let graph = try FilterGraph(width: picture.width, height: picture.height, format: AV_PIX_FMT_RGB24, description: chain.joined(separator: ","))
        let input = try Frame(width: picture.width, height: picture.height, format: AV_PIX_FMT_RGB24)
        let stride = Int(input.pointer.pointee.linesize.0)
        let base = input.pointer.pointee.data.0!
        for y in 0..<picture.height {
            for i in 0..<(picture.width * 3) {
                base[y * stride + i] = UInt8((UInt32(picture.samples[y * picture.width * 3 + i]) * 255 + 32767) / 65535)
            }
        }
        let output = try graph.filter(input)
        let outStride = Int(output.pointer.pointee.linesize.0)
        let outBase = output.pointer.pointee.data.0!
        var samples = [UInt16](repeating: 0, count: picture.samples.count)
        for y in 0..<picture.height {
            for i in 0..<(picture.width * 3) { samples[y * picture.width * 3 + i] = UInt16(outBase[y * outStride + i]) * 257 }
        }
        return Picture(width: picture.width, height: picture.height, samples: samples)
    }
}

/// Owns an AVFilterGraph that takes one frame of a fixed size and format through a chain of
/// filters (FFmpeg's doc/examples/filtering_video.c).
final class FilterGraph {
    private let graph: UnsafeMutablePointer<AVFilterGraph>
    private let source: UnsafeMutablePointer<AVFilterContext>
    private let sink: UnsafeMutablePointer<AVFilterContext>

    init(width: Int, height: Int, format: AVPixelFormat, description: String) throws {
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
            try ffmpegCheck(avfilter_graph_parse_ptr(graph, description + ",format=\(pixelFormatName(format))", &inputs, &outputs, nil), "avfilter_graph_parse_ptr")
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

    /// Runs one frame through the graph.
    func filter(_ frame: Frame) throws -> Frame {
        try ffmpegCheck(av_buffersrc_add_frame_flags(source, frame.pointer, Int32(AV_BUFFERSRC_FLAG_KEEP_REF)), "av_buffersrc_add_frame_flags")
        try ffmpegCheck(av_buffersrc_add_frame_flags(source, nil, 0), "av_buffersrc_add_frame_flags(end)")
        let output = try Frame()
        try ffmpegCheck(av_buffersink_get_frame(sink, output.pointer), "av_buffersink_get_frame")
        return output
    }
}
