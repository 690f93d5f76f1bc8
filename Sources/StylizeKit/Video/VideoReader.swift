import CFFmpeg
import Foundation

/// What the reader hands on: a decoded video frame, or a packet of another stream to copy.
enum VideoInputItem: Sendable {
    /// A decoded frame with its presentation time in the video stream's time base, already
    /// moved so that the output starts at zero.
    case frame(Frame, pts: Int64)
    /// A packet of input stream `stream`, timestamps moved like the frames' and in the
    /// packet's `time_base`.
    case packet(Packet, stream: Int32)
}

/// Demuxes and decodes the input: the best video stream decoded frame by frame, every other
/// stream's packets handed on as they are. Applies the cut (`start`, `duration`): seeks near
/// the start, then drops what lies outside, and shifts every timestamp so the output starts at 0.
final class VideoReader {
    let demuxer: Demuxer
    let videoIndex: Int32
    let decoder: FrameDecoder
    /// The video stream's time base.
    let timeBase: AVRational
    /// Input streams whose packets are wanted (set before reading).
    var copiedStreams: Set<Int32> = []
    /// Video packets or frames the decoder could not decode and that were skipped (FFmpeg
    /// conceals what it can; the rest costs a frame, not the job).
    private(set) var damaged = 0
    /// Why the input stopped before its end, if it did (a truncated file, a read error).
    private(set) var endedEarly: String?

    /// Length of the cut: the output's end, in seconds from its zero.
    private let duration: Double?
    /// Subtracted from every timestamp, in seconds: the container's start time plus the cut.
    private let originSeconds: Double
    private let packet: Packet
    private var draining = false
    private var videoDone = false
    private var finished = false
    private var lastPTS: Int64?
    private var failuresInARow = 0

    /// Frames kept by a piece job (`--frames`), nil for a whole clip or a cut.
    let window: FrameWindow?

    /// - Parameters:
    ///   - window: for a piece: seek to the keyframe before `window.decodeFrom`, drop frames
    ///     before it, stop at `window.end`. Not with `start` or `duration`.
    ///   - decodingThreads: the decoder's threads for the stream's width and height (0: FFmpeg's
    ///     choice, 1: the thread that calls `next`).
    init(path: String, formatName: String?, start: Double?, duration: Double?, window: FrameWindow? = nil,
         decodingThreads: (_ width: Int, _ height: Int) -> Int = { _, _ in 0 }) throws {
        precondition(window == nil || (start == nil && duration == nil), "a frame window is not a cut")
        self.window = window
        demuxer = try Demuxer(path: path, formatName: formatName)
        let (index, codec) = try demuxer.bestVideoStream()
        videoIndex = index
        let stream = demuxer.stream(index)
        try Picture.checkSize(stream, path: path)
        let parameters = stream.pointee.codecpar.pointee
        decoder = try FrameDecoder(stream: stream, codec: codec, threads: decodingThreads(Int(parameters.width), Int(parameters.height)))
        timeBase = stream.pointee.time_base
        packet = try Packet()
        let startSeconds = start ?? 0
        self.duration = duration
        let containerStart = demuxer.context.pointee.start_time
        originSeconds = (containerStart == cffmpeg_nopts_value() ? 0 : Double(containerStart) / Double(AV_TIME_BASE)) + startSeconds
        if let window {
            // The keyframe at or before the first frame wanted; a piece never reads a pipe.
            try ffmpegCheck(avformat_seek_file(demuxer.context, index, Int64.min, window.decodeFrom, window.decodeFrom, 0), "avformat_seek_file(\(path))")
        } else if startSeconds > 0 {
            let target = Int64(originSeconds * Double(AV_TIME_BASE))
            // Land on a keyframe at or before the start; frames before it are decoded and dropped.
            // A pipe cannot seek: then the frames before the start are decoded and dropped.
            if avformat_seek_file(demuxer.context, -1, Int64.min, target, target, 0) < 0 {
                _ = av_seek_frame(demuxer.context, -1, target, AVSEEK_FLAG_BACKWARD)
            }
        }
    }

    var videoStream: UnsafeMutablePointer<AVStream> { demuxer.stream(videoIndex) }

    /// Hands on only the other streams' packets: the video is neither read nor decoded (for
    /// `join`, whose video comes from the pieces). Call before reading.
    func skipVideo() {
        videoDone = true
        videoStream.pointee.discard = AVDISCARD_ALL
    }

    /// Whether a frame handed on with `pts` (as shifted) only warms up the stabilizer.
    func isWarmup(_ pts: Int64) -> Bool {
        guard let window else { return false }
        return pts < shifted(window.firstWritten, timeBase)
    }

    /// Seconds of a timestamp in `timeBase`, measured from the output's zero.
    private func seconds(_ ts: Int64, _ timeBase: AVRational) -> Double {
        Double(ts) * av_q2d(timeBase) - originSeconds
    }

    /// `ts` (in `timeBase`) moved so that the output starts at zero.
    private func shifted(_ ts: Int64, _ timeBase: AVRational) -> Int64 {
        guard ts != cffmpeg_nopts_value() else { return ts }
        let offset = Self.clampedInt64(originSeconds / av_q2d(timeBase))
        let (moved, overflow) = ts.subtractingReportingOverflow(offset)
        return overflow ? cffmpeg_nopts_value() : moved
    }

    /// `value` rounded to an Int64, clamped into its range (timestamps come from the file).
    static func clampedInt64(_ value: Double) -> Int64 {
        guard value.isFinite else { return 0 }
        return Int64(min(max(value.rounded(), -9.0e18), 9.0e18))
    }

    /// The next frame or packet, or nil at the end (of the file or of the cut).
    func next() throws -> VideoInputItem? {
        while !finished {
            if !videoDone, let frame = try decodedFrame() { return frame }
            if videoDone && (draining || copiedStreams.isEmpty) { finished = true; return nil }
            // Feed the decoder; hand on packets of copied streams.
            let more: Bool
            do { more = try demuxer.read(into: packet) } catch StylizeError.ffmpeg(_, _, let text) {
                // A truncated or unreadable tail: keep what came before it.
                endedEarly = text
                more = false
            }
            guard more else {
                draining = true
                if !videoDone { _ = try decoder.send(nil) }
                continue
            }
            let index = packet.pointer.pointee.stream_index
            if videoDone, let duration, packetSeconds(index).map({ $0 > duration + Self.interleaveMargin }) ?? false {
                // Past the cut by more than any interleaving skew: nothing later belongs to it.
                packet.unref()
                finished = true
                return nil
            }
            if index == videoIndex && !videoDone {
                do { _ = try decoder.send(packet) } catch StylizeError.ffmpeg {
                    damaged += 1
                }
                packet.unref()
            } else if copiedStreams.contains(index), let item = try passThrough(index) {
                return item
            } else {
                packet.unref()
            }
        }
        return nil
    }

    /// Seconds of file position by which other streams may trail the video stream.
    private static let interleaveMargin = 2.0

    /// The next decoded frame inside the cut, or nil when the decoder needs input. Sets
    /// `videoDone` at the end of the stream or of the cut.
    private func decodedFrame() throws -> VideoInputItem? {
        while true {
            let frame = try Frame()
            let result: PumpResult
            do {
                result = try decoder.receive(into: frame)
                failuresInARow = 0
            } catch StylizeError.ffmpeg(let call, let code, let text) {
                // This frame is lost; the decoder goes on with the next. A decoder that fails
                // on and on is broken, not damaged.
                damaged += 1
                failuresInARow += 1
                if failuresInARow > 1000 { throw StylizeError.ffmpeg(call: call, code: code, text: text) }
                continue
            }
            switch result {
            case .produced:
                var pts = frame.pointer.pointee.best_effort_timestamp
                if pts == cffmpeg_nopts_value() {
                    // No timestamp: one frame duration after the last one.
                    let rate = av_guess_frame_rate(demuxer.context, videoStream, nil)
                    let step = frame.pointer.pointee.pkt_duration > 0 ? frame.pointer.pointee.pkt_duration
                        : max(1, Self.clampedInt64(1 / av_q2d(rate.num > 0 ? rate : AVRational(num: 25, den: 1)) / av_q2d(timeBase)))
                    let previous = lastPTS ?? Self.clampedInt64(originSeconds / av_q2d(timeBase)) &- step
                    let (next, overflow) = previous.addingReportingOverflow(step)
                    if overflow { damaged += 1; continue }
                    pts = next
                }
                if let window {
                    if let end = window.end, pts >= end { videoDone = true; return nil }
                    if pts < window.decodeFrom { continue }
                }
                let t = seconds(pts, timeBase)
                if let duration, t >= duration - 1e-6 { videoDone = true; return nil }
                if t < -1e-6 { continue }  // before the cut
                if let lastPTS, pts <= lastPTS { continue }  // a repeated timestamp would break the muxer
                lastPTS = pts
                return .frame(frame, pts: shifted(pts, timeBase))
            case .endOfStream:
                videoDone = true
                return nil
            case .needsInput:
                if draining { videoDone = true }
                return nil
            }
        }
    }

    /// Seconds of the current packet from the output's zero, if it has a timestamp.
    private func packetSeconds(_ index: Int32) -> Double? {
        let p = packet.pointer.pointee
        let ts = p.pts != cffmpeg_nopts_value() ? p.pts : p.dts
        return ts == cffmpeg_nopts_value() ? nil : seconds(ts, demuxer.stream(index).pointee.time_base)
    }

    /// The current packet of a copied stream, moved into the output's time, or nil when it lies
    /// outside the cut.
    private func passThrough(_ index: Int32) throws -> VideoInputItem? {
        let timeBase = demuxer.stream(index).pointee.time_base
        if let t = packetSeconds(index), t < -1e-6 || (duration.map { t >= $0 - 1e-6 } ?? false) {
            packet.unref()
            return nil
        }
        let copy = try Packet()
        av_packet_move_ref(copy.pointer, packet.pointer)
        copy.pointer.pointee.pts = shifted(copy.pointer.pointee.pts, timeBase)
        copy.pointer.pointee.dts = shifted(copy.pointer.pointee.dts, timeBase)
        copy.pointer.pointee.time_base = timeBase
        return .packet(copy, stream: index)
    }
}
