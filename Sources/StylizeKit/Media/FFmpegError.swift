import CFFmpeg

/// av_strerror's text for an AVERROR code.
func ffmpegErrorText(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "error \(code)" }
    return String(nulTerminated: buffer)
}

extension String {
    /// The text in a C buffer up to its first NUL.
    init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Returns `code` when it is not negative; throws `StylizeError.ffmpeg` when it is.
@discardableResult
func ffmpegCheck(_ code: Int32, _ call: @autoclosure () -> String) throws -> Int32 {
    if code < 0 { throw StylizeError.ffmpeg(call: call(), code: code, text: ffmpegErrorText(code)) }
    return code
}

/// What a send/receive pump gives back, following FFmpeg's own loop (doc/examples/transcode.c):
/// EAGAIN and EOF are ordinary outcomes, not errors.
enum PumpResult: Equatable {
    /// A frame or packet was produced.
    case produced
    /// The codec needs more input before it can produce anything.
    case needsInput
    /// The codec is drained.
    case endOfStream
}
