import Foundation

/// A frame of a sequence on its way through the workers.
struct SequenceJob {
    var frame: SequenceFrame
    /// Position in the sequence; also the video timestamp, in 1 / frame rate.
    var index: Int
    var conditioning: StyleConditioning
    /// Stylized for the stabilizer's state only (resuming): its output exists already.
    var warmup = false
    /// Present when a mask decides where the style goes.
    var regions: RegionWork?

    init(frame: SequenceFrame, index: Int, conditioning: StyleConditioning, regions: RegionWork? = nil) {
        (self.frame, self.index, self.conditioning, self.regions) = (frame, index, conditioning, regions)
    }
}

/// The read stage of a frame-sequence job, the sequence's counterpart of `ReadStage`. It hands
/// out the frames in order (those listed when the job started, then, when watching, each new
/// one as it appears), each with what a worker needs to paint it: the style at its time, index
/// / frame rate, and with a mask, its mask and outside.
final class SequenceReadStage {
    private var listed: [SequenceFrame]
    private var nextListed = 0
    private let feed: FrameFeed?
    private let shouldStop: () -> Bool
    private let frameRate: Double
    private let styles: ConditioningSchedule
    private let regions: RegionSchedule?
    private var index = 0
    /// Jobs taken from the sequence and not yet handed out (a peeked one, warm-up frames).
    private var queued: [SequenceJob] = []
    /// Resuming into a folder: the last frames whose output exists, kept to warm up the
    /// stabilizer before the next frame to write.
    private var finished: [SequenceJob] = []

    /// `listed` frames first, then, with a `feed`, frames as they appear until `shouldStop`.
    init(listed: [SequenceFrame], feed: FrameFeed?, shouldStop: @escaping () -> Bool, frameRate: Double, styles: ConditioningSchedule,
         regions: RegionSchedule?) {
        (self.listed, self.feed, self.shouldStop, self.frameRate, self.styles, self.regions) = (listed, feed, shouldStop, frameRate, styles, regions)
    }

    /// The next frame's job, or nil when there are no more.
    func next() throws -> SequenceJob? {
        if !queued.isEmpty { return queued.removeFirst() }
        let frame: SequenceFrame?
        if nextListed < listed.count {
            frame = listed[nextListed]
            nextListed += 1
        } else {
            frame = try feed?.next(shouldStop: shouldStop)
        }
        guard let frame else { return nil }
        defer { index += 1 }
        let seconds = Double(index) / frameRate
        return SequenceJob(frame: frame, index: index, conditioning: try styles.conditioning(at: seconds),
                           regions: try regions?.work(index: index, seconds: seconds))
    }

    /// Hands `job` out again first, as the next call's (a job looked at before the others).
    func handBack(_ job: SequenceJob) {
        queued.insert(job, at: 0)
    }

    /// The next frame to write into a folder where `destination` gives each frame's output.
    /// A frame whose output exists is refused (`StylizeError.outputExists`), unless
    /// `overwrite`, or passed over when `resume`; the last `warmup` frames passed over are
    /// handed out first, marked as warm-up (stylized for the stabilizer, not written).
    func next(into destination: (URL) -> URL, overwrite: Bool, resume: Bool, warmup: Int) throws -> SequenceJob? {
        if !queued.isEmpty { return queued.removeFirst() }
        while let job = try next() {
            let target = destination(job.frame.url).path
            if FileManager.default.fileExists(atPath: target) {
                if resume {
                    finished.append(job)
                    if finished.count > warmup { finished.removeFirst() }
                    continue
                }
                if !overwrite { throw StylizeError.outputExists(target) }
            }
            queued = finished.map { var warm = $0; warm.warmup = true; return warm } + [job]
            finished = []
            return queued.removeFirst()
        }
        return nil
    }
}
