import CFFmpeg

/// Owns one AVFrame.
///
/// Sendable by hand-over, unchecked: a frame travels between the stages of a job (decoded by the
/// reader, converted by a worker, encoded by the writer), and each stage that passes it on
/// keeps no reference to it, so one thread at a time touches it. The one exception is a decoded
/// frame repeated at a constant output rate (`FrameRateConverter`): several workers then read it
/// at once, and none writes to it (workers only read their input frames).
final class Frame: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<AVFrame>

    init() throws {
        guard let frame = av_frame_alloc() else { throw StylizeError.ffmpeg(call: "av_frame_alloc", code: cffmpeg_error_enomem(), text: "out of memory") }
        pointer = frame
    }

    /// A frame with its own buffers for `width` x `height` pixels of `format`.
    convenience init(width: Int, height: Int, format: AVPixelFormat) throws {
        try self.init()
        pointer.pointee.width = Int32(width)
        pointer.pointee.height = Int32(height)
        pointer.pointee.format = format.rawValue
        try ffmpegCheck(av_frame_get_buffer(pointer, 0), "av_frame_get_buffer")
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
    }

    var width: Int { Int(pointer.pointee.width) }
    var height: Int { Int(pointer.pointee.height) }
    var format: AVPixelFormat { AVPixelFormat(rawValue: pointer.pointee.format) }

    func unref() { av_frame_unref(pointer) }

    /// A frame with buffers of its own holding this one's pixels and properties (timestamps,
    /// colours, aspect).
    func copy() throws -> Frame {
        let copy = try Frame(width: width, height: height, format: format)
        try ffmpegCheck(av_frame_copy(copy.pointer, pointer), "av_frame_copy")
        try ffmpegCheck(av_frame_copy_props(copy.pointer, pointer), "av_frame_copy_props")
        return copy
    }

    /// The frame's four plane pointers and their strides, as FFmpeg's scaler takes them.
    var planes: [UnsafeMutablePointer<UInt8>?] {
        let f = pointer.pointee
        return [f.data.0, f.data.1, f.data.2, f.data.3]
    }
    var strides: [Int32] {
        let f = pointer.pointee
        return [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3]
    }
}

/// Owns one AVPacket.
///
/// Sendable by hand-over, unchecked, as `Frame`: a packet read for copying goes from the reader
/// to the writer, and the reader keeps no reference to it.
final class Packet: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<AVPacket>

    init() throws {
        guard let packet = av_packet_alloc() else { throw StylizeError.ffmpeg(call: "av_packet_alloc", code: cffmpeg_error_enomem(), text: "out of memory") }
        pointer = packet
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
    }

    func unref() { av_packet_unref(pointer) }
}
