import CFFmpeg
import Foundation

/// The read stage of a clip job. It yields the input's frames in order, each with what a worker
/// needs to paint it (`StylizeWork`), and the other streams' packets to copy. With a frame rate
/// asked, frames come on the new rate's ticks. With a stabilizer, each frame also carries its
/// luma and the one before, so that workers can measure the motion between them.
final class ReadStage {
    let reader: VideoReader
    private var converter: FrameRateConverter?
    /// Items read ahead of the pipeline (a pipe's first frame and the packets before it).
    private var readAhead: [VideoInputItem] = []
    /// Frames at the asked rate, on their ticks, waiting to be handed on.
    private var ticked: [(frame: Frame, tick: Int64)] = []
    private let start: Double
    private let lumaReader: LumaReader?
    private var lastLuma: LumaPlane?
    private var index = 0
    /// Each frame's mask and outside style, when a mask decides where the style goes.
    var regions: RegionSchedule?

    /// Opens `input` for `options`: the cut, the piece's `window`, the rate; `stabilizes` adds
    /// each frame's luma to its work.
    init(input: String, options: JobOptions, window: FrameWindow?, stabilizes: Bool) throws {
        reader = try VideoReader(path: input, formatName: options.inputFormat, start: options.start, duration: options.duration,
                                 window: window, decodingThreads: options.codecThreads)
        let reader = reader
        converter = options.frameRate.map { rate in
            FrameRateConverter(rate: av_d2q(rate, 1_001_000), inputTimeBase: reader.timeBase,
                               inputRate: av_guess_frame_rate(reader.demuxer.context, reader.videoStream, nil),
                               end: options.duration.map { Int64(($0 / av_q2d(reader.timeBase)).rounded()) })
        }
        start = options.start ?? 0
        lumaReader = stabilizes ? LumaReader() : nil
    }

    /// CPU time spent shrinking lumas for the stabilizer, in nanoseconds.
    var lumaNanoseconds: UInt64 { lumaReader?.cpuTime.nanoseconds ?? 0 }

    /// The input's own frame rate.
    var inputFrameRate: AVRational { av_guess_frame_rate(reader.demuxer.context, reader.videoStream, nil) }

    /// Whether frames come at an asked rate rather than the input's.
    var changesRate: Bool { converter != nil }

    /// The video stream as the writer sees it: the input's, at the asked rate if there is one.
    var videoDescription: VideoWriter.VideoDescription {
        var video = VideoWriter.VideoDescription(reader)
        if let converter {
            video.frameRate = converter.rate
            video.timeBase = converter.timeBase
        }
        return video
    }

    /// The first frame, read ahead (it and the packets before it are still handed on); nil
    /// when the input has no video frame. A pipe cannot be read twice, so this is how a
    /// pipe's job sees a frame before it starts.
    func firstFrame() throws -> Frame? {
        while let item = try reader.next() {
            readAhead.append(item)
            if case .frame(let frame, _) = item { return frame }
        }
        return nil
    }

    /// The next item for the pipeline: a frame's work, painted as `schedule` says at its time
    /// on the input's timeline (so a cut does not move keyframes), or a packet; nil at the end.
    /// With a stabilizer, each frame's luma is taken here at `width`x`height`, and only then
    /// are a piece's warm-up frames (before its first written one) handed on.
    func next(schedule: ConditioningSchedule, width: Int, height: Int) throws -> OrderedPipeline<ClipWorker, StylizeWork, StylizedItem>.Item? {
        switch try nextItem() {
        case .frame(let frame, let pts)?:
            let seconds = Double(pts) * av_q2d(converter?.timeBase ?? reader.timeBase) + start
            defer { index += 1 }
            var luma: StylizeWork.Luma?
            if let lumaReader {
                let (plane, scale) = try lumaReader.luma(of: frame, width: width, height: height)
                luma = .init(current: plane, previous: lastLuma, scale: scale)
                lastLuma = plane
            }
            return .work(StylizeWork(frame: frame, pts: pts, index: index, conditioning: try schedule.conditioning(at: seconds),
                                     warmup: lumaReader != nil && reader.isWarmup(pts), luma: luma,
                                     regions: try regions?.work(index: index, seconds: seconds)))
        case .packet(let packet, let stream)?:
            return .passThrough(.packet(packet, stream: stream))
        case nil:
            return nil
        }
    }

    /// The next frame or packet: with a frame rate asked, frames come from the converter on its ticks.
    private func nextItem() throws -> VideoInputItem? {
        guard converter != nil else { return readAhead.isEmpty ? try reader.next() : readAhead.removeFirst() }
        while ticked.isEmpty {
            let item = readAhead.isEmpty ? try reader.next() : readAhead.removeFirst()
            switch item {
            case .frame(let frame, let pts)?: ticked = converter!.push(frame, pts: pts)
            case .packet?: return item
            case nil:
                ticked = converter!.finish()
                if ticked.isEmpty { return nil }
            }
        }
        let (frame, tick) = ticked.removeFirst()
        return .frame(frame, pts: tick)
    }
}
