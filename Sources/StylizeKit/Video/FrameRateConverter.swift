import CFFmpeg

/// Frames at a constant rate from frames at any times, as ffmpeg's fps filter makes them: tick
/// k (at k / rate seconds) shows the frame on screen then, so frames are repeated where the
/// input is slower and dropped where it is faster. Each input frame takes the tick nearest its
/// time; a frame is known to end only when the next one arrives, so output lags one frame.
struct FrameRateConverter {
    /// Ticks per second.
    let rate: AVRational
    /// The input frames' time base.
    let inputTimeBase: AVRational
    /// How long the last frame lasts, in `inputTimeBase`: one frame at the input's nominal rate.
    let lastFrameDuration: Int64
    /// The last frame read, the first tick it may fill and its time.
    private var pending: (frame: Frame, tick: Int64, pts: Int64)?
    private var emitted = 0

    /// Where the part being converted ends, in `inputTimeBase`: the last frame stops there.
    let end: Int64?

    init(rate: AVRational, inputTimeBase: AVRational, inputRate: AVRational, end: Int64? = nil) {
        self.rate = rate
        self.inputTimeBase = inputTimeBase
        self.end = end
        lastFrameDuration = inputRate.num > 0 && inputRate.den > 0 ? max(1, av_rescale_q(1, av_inv_q(inputRate), inputTimeBase)) : 1
    }

    /// The output time base: one tick.
    var timeBase: AVRational { av_inv_q(rate) }

    /// The frames (with their tick, in `timeBase`) that the frame at `pts` completes.
    mutating func push(_ frame: Frame, pts: Int64) -> [(frame: Frame, tick: Int64)] {
        let tick = av_rescale_q_rnd(pts, inputTimeBase, timeBase, AV_ROUND_NEAR_INF)
        guard let (previous, first, _) = pending else {
            pending = (frame, tick, pts)
            return []
        }
        // The previous frame fills every tick up to this frame's; none when this one takes it.
        let out = first < tick ? (first..<tick).map { (previous, $0) } : []
        emitted += out.count
        pending = (frame, max(tick, first + Int64(out.count)), pts)
        return out
    }

    /// At the end of the input: the last frame on every tick before it ends (the one frame of
    /// an input too short for a tick).
    mutating func finish() -> [(frame: Frame, tick: Int64)] {
        defer { pending = nil }
        guard let (frame, first, pts) = pending else { return [] }
        let end = av_rescale_q_rnd(min(pts + lastFrameDuration, self.end ?? .max), inputTimeBase, timeBase, AV_ROUND_NEAR_INF)
        return (first..<max(end, emitted == 0 ? first + 1 : first)).map { (frame, $0) }
    }
}
