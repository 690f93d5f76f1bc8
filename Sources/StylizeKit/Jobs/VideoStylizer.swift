import CFFmpeg
import Foundation

/// Stylizes a whole clip: demux/decode -> transformer workers -> encode/mux, joined by
/// `OrderedPipeline`, with every other stream copied through in order. Workers hand 8- and 10-bit
/// 4:2:0 frames at the network's size to the network as they are; other frames go through RGB.
public final class VideoStylizer: FileStylizer {
    /// The models the job runs.
    public let stylizer: Stylizer
    /// How the job runs.
    public let options: JobOptions
    /// Where the style goes, when a mask decides it (`StylizeJob.regions`).
    let regions: RegionSetup?

    /// A job over `stylizer`'s models with `options`; nothing runs until `stylize` or `run` is called.
    public convenience init(stylizer: Stylizer, options: JobOptions = .init()) {
        self.init(stylizer: stylizer, options: options, regions: nil)
    }

    init(stylizer: Stylizer, options: JobOptions, regions: RegionSetup?) {
        self.stylizer = stylizer
        self.options = options
        self.regions = regions
    }

    /// Stylizes `input` into `output` on the calling thread, each frame with the style the
    /// timeline gives at its time on the input's timeline (frame indices `#N` are N / the
    /// clip's nominal frame rate). Every style vector is known before the first frame.
    /// `progress` is called once per frame written (on the writing thread); when `isCancelled`
    /// (asked before each frame is read) returns true, the job throws `CancellationError`
    /// and leaves no output behind.
    public func run(input: ClipLocation, output: ClipLocation, timeline: StyleTimeline,
                    progress: (@Sendable (JobProgress) -> Void)? = nil,
                    isCancelled: (@Sendable () -> Bool)? = nil) throws -> JobSummary {
        try run(input: input.path, output: output.path, timeline: timeline, progress: progress, isCancelled: isCancelled)
    }

    /// `run(input:output:timeline:progress:isCancelled:)` from one file to another.
    public func run(input: URL, output: URL, timeline: StyleTimeline, progress: (@Sendable (JobProgress) -> Void)? = nil,
                    isCancelled: (@Sendable () -> Bool)? = nil) throws -> JobSummary {
        try run(input: .file(input), output: .file(output), timeline: timeline, progress: progress, isCancelled: isCancelled)
    }

    func run(input: String, output: String, timeline: StyleTimeline, progress: (@Sendable (JobProgress) -> Void)?,
             isCancelled: (@Sendable () -> Bool)?) throws -> JobSummary {
        try options.validate()
        if input != "-", output != "-",
           URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath() == URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath() {
            throw StylizeError.invalidArgument("the output \(output) is the input; choose another file")
        }
        let started = Date(), startedCPU = CPUTime.process()
        let window = try options.frames.map { try pieceWindow($0, of: input) }
        let source = try ReadStage(input: input, options: options, window: window, stabilizes: options.stabilization > 0)
        let masks = try regions.flatMap { try MaskReader($0.regions.mask) }
        // A piece is video only: `join` takes the other streams from the source, once.
        let writer = try VideoWriter(destination: output, video: source.videoDescription, reader: window == nil ? source.reader : nil, options: options)
        let schedule: ConditioningSchedule
        (schedule, source.regions) = try conditioningSchedules(timeline, masks: masks, input: input, source: source, writer: writer)
        let total = options.frames?.count ?? estimatedFrames(source.reader, rate: options.frameRate)
        if options.filmstrip != nil && total == nil {
            throw StylizeError.invalidArgument("a filmstrip needs the clip's length, which this input does not tell")
        }
        let convert = ConvertStage(writer: writer, filmstrip: options.filmstrip.map { Filmstrip(url: $0, count: options.filmstripFrames, total: total!) })
        let stabilize = StabilizeStage(strength: options.stabilization, convert: convert, stylizedOutside: regions?.outside != nil)
        let stylize = try StylizeStage(options: options, convert: convert, stabilizes: stabilize.stabilizer != nil, regions: regions)
        let workerCount = options.workers ?? JobOptions.defaultWorkers(width: stylize.width, height: stylize.height)
        let counter = FrameCounter(total: total, progress: progress)
        let clipWorkers = try workers(workerCount, precision: options.precision, stabilizes: stabilize.stabilizer != nil, convert: convert)
        let pipeline = OrderedPipeline<ClipWorker, StylizeWork, StylizedItem>(
            workers: clipWorkers,
            framesInFlight: options.framesInFlight,
            process: { worker, work in try stylize.process(work, on: worker) },
            write: { item in
                if case .packet(let packet, let stream) = item { return try writer.write(packet, stream: stream) }
                guard let frame = try stabilize.frame(for: item, index: counter.value) else { return }
                try writer.write(frame)
                counter.increment()
            })
        do {
            try pipeline.run {
                if isCancelled?() == true { throw CancellationError() }
                return try source.next(schedule: schedule, width: stylize.width, height: stylize.height)
            }
            guard counter.value > 0 else { throw noFrames(input, source.reader) }
            try writer.finish()
        } catch {
            writer.muxer.abandon()
            throw error
        }
        try convert.filmstrip?.write(overwrite: options.overwrite)
        var summary = summary(input: input, output: output, started: started, frames: counter.value, reader: source.reader, writer: writer,
                              stabilizer: stabilize.stabilizer, notes: source.regions?.notes ?? [])
        summary.cpuSeconds = Double(CPUTime.process() &- startedCPU) / 1e9
        if stabilize.stabilizer != nil {
            // The workers measure motion, the read stage shrinks lumas, the stabilize stage blends.
            let measuring = clipWorkers.reduce(UInt64(0)) { $0 + ($1.flow?.cpuTime.nanoseconds ?? 0) }
            summary.stabilizerCPUSeconds = Double(measuring + source.lumaNanoseconds + stabilize.cpuNanoseconds) / 1e9
        }
        return summary
    }

    /// `count` workers, sharing the cores, with optical flow when the job is stabilized, and
    /// masks of `convert`'s frames when a mask decides where the style goes.
    private func workers(_ count: Int, precision: Precision, stabilizes: Bool, convert: ConvertStage) throws -> [ClipWorker] {
        try (0..<count).map { _ in
            ClipWorker(network: try stylizer.makeWorker(precision: precision, threads: JobOptions.threads(forWorkers: count)),
                       converter: FrameConverter(), flow: stabilizes ? try? OpticalFlow(TemporalStabilizer.flowSettings) : nil,
                       masks: regions.map { convert.maskMaker($0.regions) })
        }
    }

    /// The style of each frame by its time: the timeline's, with the clip's own style vector
    /// where the timeline needs one (given, or sampled from the clip; for a pipe, its first frame);
    /// and with regions, each frame's stored mask (`masks`) and the outside's style.
    private func conditioningSchedules(_ timeline: StyleTimeline, masks: MaskReader?, input: String, source: ReadStage,
                                       writer: VideoWriter) throws -> (ConditioningSchedule, RegionSchedule?) {
        var identity: StyleVector?
        if timeline.needsIdentity || regions?.outside?.needsIdentity == true {
            if let given = options.identity {
                identity = given
            } else if input == "-" {
                // A pipe cannot be read twice: the first frame stands for the clip.
                guard let frame = try source.firstFrame() else { throw StylizeError.unreadable(path: input, reason: "no video frames") }
                identity = try stylizer.styleVector(for: Picture(frame: frame))
            } else {
                identity = try identityVector(of: input)
            }
        }
        // Frame indices (#N keyframes) count the input's frames, also when --fps changes the rate.
        let rate = source.changesRate ? source.inputFrameRate : writer.encoder.context.pointee.framerate
        let frameRate = rate.num > 0 ? av_q2d(rate) : 25
        let schedule = { (timeline: StyleTimeline) in
            ConditioningSchedule(transformer: self.stylizer.transformer, timeline: timeline, frameRate: frameRate, identity: identity)
        }
        return (schedule(timeline), regions.map { RegionSchedule(masks: masks, outside: $0.outside.map(schedule), frameRate: frameRate) })
    }

    private func summary(input: String, output: String, started: Date, frames: Int, reader: VideoReader, writer: VideoWriter,
                         stabilizer: TemporalStabilizer?, notes: [String]) -> JobSummary {
        let seconds = Date().timeIntervalSince(started)
        var summary = JobSummary(input: input, output: output, frames: frames, seconds: seconds,
                                   framesPerSecond: Double(frames) / max(seconds, 1e-9), width: writer.width, height: writer.height,
                                   videoCodec: writer.codecName,
                                   streams: writer.notes + (stabilizer.map { [FrameSequenceStylizer.note($0, options.stabilization)] } ?? []))
        summary.damaged = reader.damaged
        if reader.damaged > 0 { summary.warnings.append("\(reader.damaged) damaged video packets or frames were skipped") }
        if let early = reader.endedEarly { summary.warnings.append("the input ends early (\(early)); everything before that was stylized") }
        summary.warnings += notes
        return summary
    }

    /// Why a job found no frame to write: a start past the end, an MP4 that a pipe cannot
    /// read, or nothing in the part.
    func noFrames(_ input: String, _ reader: VideoReader) -> StylizeError {
        let length = reader.demuxer.durationSeconds
        if let start = options.start, length > 0, start >= length {
            return .invalidArgument(String(format: "the start, %.3f s, is past the end of %@, which is %.3f s long", start, input, length))
        }
        let container = String(cString: reader.demuxer.context.pointee.iformat.pointee.name)
        if input == "-" && container.contains("mp4") {
            return .unreadable(path: input, reason: "this MP4/MOV keeps its index at the end, which a pipe cannot reach: give the file's path, "
                               + "or send it as -f nut or -f matroska (or remux it with -movflags +faststart)")
        }
        return .unreadable(path: input, reason: "no video frames in the chosen part")
    }

    /// The frames a piece decodes before its first written one, for the stabilizer's state.
    private var pieceWarmup: Int {
        options.stabilization > 0 ? (options.warmup ?? JobOptions.defaultWarmup(stabilization: options.stabilization)) : 0
    }

    /// The frames a piece job decodes, warms up on and writes, from the input's packets.
    func pieceWindow(_ frames: Range<Int>, of input: String) throws -> FrameWindow {
        guard input != "-" else { throw StylizeError.invalidArgument("a piece of a clip (frames) needs a file, not a pipe") }
        let index = try options.layout?.frameIndex(for: input)
            ?? VideoFrameIndex(path: input, formatName: options.inputFormat, through: frames.upperBound)
        guard frames.upperBound <= index.count else {
            throw StylizeError.invalidArgument("frames \(frames.lowerBound)..\(frames.upperBound) go past the end of \(input), which has \(index.count) frames")
        }
        return FrameWindow(decodeFrom: index.timestamps[max(0, frames.lowerBound - pieceWarmup)],
                           firstWritten: index.timestamps[frames.lowerBound],
                           end: frames.upperBound < index.count ? index.timestamps[frames.upperBound] : nil)
    }

    /// The clip's own style vector: the mean of the vectors of `identitySamples` frames spread
    /// evenly over the part being stylized (computed once, never per frame, so strength below 1
    /// does not flicker).
    public func identityVector(of input: URL) throws -> StyleVector {
        try identityVector(of: input.displayPath)
    }

    func identityVector(of input: String) throws -> StyleVector {
        func firstFrame(from start: Double?) throws -> StyleVector? {
            let reader = try VideoReader(path: input, formatName: options.inputFormat, start: start, duration: nil)
            while let item = try reader.next() {
                if case .frame(let frame, _) = item { return try stylizer.styleVector(for: Picture(frame: frame)) }
            }
            return nil
        }
        let start = options.start ?? 0
        let known = try Demuxer(path: input, formatName: options.inputFormat).durationSeconds - start
        let length = min(options.duration ?? known, known)
        let samples = length > 0 ? max(1, options.identitySamples) : 1
        let vectors = try (0..<samples).compactMap { k in
            try firstFrame(from: start + max(0, length) * (Double(k) + 0.5) / Double(samples))
        }
        guard !vectors.isEmpty else { throw StylizeError.unreadable(path: input, reason: "no video frames to sample") }
        return try StyleVector.mix(vectors.map { ($0, 1) })
    }

    /// Frames the job will write: the stream's count, or its length at `rate` (nil: its own).
    private func estimatedFrames(_ reader: VideoReader, rate asked: Double?) -> Int? {
        let rate = asked ?? av_q2d(av_guess_frame_rate(reader.demuxer.context, reader.videoStream, nil))
        guard rate > 0 else { return nil }
        if let duration = options.duration { return Int((duration * rate).rounded()) }
        let count = Int(reader.videoStream.pointee.nb_frames)
        if count > 0 && (options.start ?? 0) == 0 && asked == nil { return count }
        let seconds = reader.demuxer.durationSeconds - (options.start ?? 0)
        return seconds > 0 ? Int((seconds * rate).rounded()) : nil
    }
}

/// Frames written so far, read from another thread for progress, and reported to a progress
/// callback as each is written. Sendable, unchecked: `count` is only touched under `lock`.
final class FrameCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private let started = Date()
    private let total: Int?
    private let progress: (@Sendable (JobProgress) -> Void)?

    init(total: Int? = nil, progress: (@Sendable (JobProgress) -> Void)? = nil) {
        self.total = total
        self.progress = progress
    }

    var value: Int { lock.lock(); defer { lock.unlock() }; return count }

    func increment() {
        lock.lock()
        count += 1
        let done = count
        lock.unlock()
        progress?(JobProgress(framesDone: done, framesTotal: total.map { max($0, done) }, seconds: Date().timeIntervalSince(started)))
    }
}

/// Where a clip is read from or written to.
public enum ClipLocation: Sendable, Hashable {
    /// A file.
    case file(URL)
    /// Standard input as a source, standard output as a destination: pipes (name the output
    /// container in `JobOptions.outputFormat`).
    case standardStream
    /// A destination FFmpeg writes in place: a stream URL (udp://, srt://, rtmp://, ...) or a
    /// device (a v4l2 output such as /dev/video10). Live jobs write there.
    case stream(String)

    /// The path FFmpeg opens, as the user gave it where that names the same file ("-" for a pipe).
    var path: String {
        switch self {
        case .file(let url): return url.displayPath
        case .standardStream: return "-"
        case .stream(let location): return location
        }
    }
}

extension URL {
    /// The path as it was given when that names the same file (relative paths stay relative in
    /// messages), the absolute path otherwise.
    var displayPath: String {
        URL(fileURLWithPath: relativePath).standardizedFileURL.path == standardizedFileURL.path ? relativePath : path
    }
}

/// Runs blocking work on a thread of its own (a job can take hours; it must not hold one of
/// the cooperative pool's few threads), telling it when the calling task is cancelled. A job
/// stopped that way throws `CancellationError`.
package func runBlocking<T: Sendable>(_ body: @escaping @Sendable (_ isCancelled: @escaping @Sendable () -> Bool) throws -> T) async throws -> T {
    let cancelled = Locked(false)
    let isCancelled: @Sendable () -> Bool = { cancelled.withLock { $0 } }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try body(isCancelled))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    } onCancel: {
        cancelled.withLock { $0 = true }
    }
}

extension Demuxer {
    /// The container's duration in seconds, 0 when unknown.
    var durationSeconds: Double {
        let d = context.pointee.duration
        return d == cffmpeg_nopts_value() || d <= 0 ? 0 : Double(d) / Double(AV_TIME_BASE)
    }
}
