import CFFmpeg
import Foundation

/// Stylizes a whole clip: demux/decode -> transformer workers -> encode/mux, joined by
/// `OrderedPipeline`, with every other stream copied through in order. Workers hand 8- and 10-bit
/// 4:2:0 frames at the network's size to the network as they are; other frames go through RGB.
public final class VideoStylizer: Sendable {
    /// The models the job runs.
    public let stylizer: Stylizer
    /// How the job runs.
    public let options: VideoOptions

    /// A job over `stylizer`'s models with `options`; nothing runs until `stylize` or `run` is called.
    public init(stylizer: Stylizer, options: VideoOptions = .init()) {
        self.stylizer = stylizer
        self.options = options
    }

    /// Stylizes the clip at `input` into `output` with one style at `strength`, off the
    /// caller's thread. See `stylize(_:to:timeline:progress:)`.
    public func stylize(_ input: URL, to output: URL, style: StyleVector, strength: Double = 1,
                        progress: (@Sendable (VideoProgress) -> Void)? = nil) async throws -> VideoSummary {
        try await stylize(input, to: output, timeline: StyleTimeline(constant: style, strength: strength), progress: progress)
    }

    /// Stylizes the clip at `input` into `output`, each frame with the style `timeline` gives at
    /// its time, off the caller's thread. `progress` is called once per frame written.
    /// Cancelling the task stops the job: it throws `CancellationError` and leaves no output.
    public func stylize(_ input: URL, to output: URL, timeline: StyleTimeline,
                        progress: (@Sendable (VideoProgress) -> Void)? = nil) async throws -> VideoSummary {
        try await runBlocking { isCancelled in
            try self.run(input: .file(input), output: .file(output), timeline: timeline, progress: progress, isCancelled: isCancelled)
        }
    }

    /// Stylizes `input` into `output` on the calling thread, each frame with the style the
    /// timeline gives at its time on the input's timeline (frame indices `#N` are N / the
    /// clip's nominal frame rate). Every style vector is known before the first frame.
    /// `progress` is called once per frame written (on the writing thread); when `isCancelled`
    /// (asked before each frame is read) returns true, the job throws `CancellationError`
    /// and leaves no output behind.
    public func run(input: ClipLocation, output: ClipLocation, timeline: StyleTimeline,
                    progress: (@Sendable (VideoProgress) -> Void)? = nil,
                    isCancelled: (@Sendable () -> Bool)? = nil) throws -> VideoSummary {
        try run(input: input.path, output: output.path, timeline: timeline, progress: progress, isCancelled: isCancelled)
    }

    func run(input: String, output: String, timeline: StyleTimeline, progress: (@Sendable (VideoProgress) -> Void)?,
             isCancelled: (@Sendable () -> Bool)?) throws -> VideoSummary {
        try options.validate()
        if input != "-", output != "-",
           URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath() == URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath() {
            throw StylizeError.invalidArgument("the output \(output) is the input; choose another file")
        }
        let started = Date()
        let window = try options.frames.map { try pieceWindow($0, of: input) }
        let reader = try VideoReader(path: input, formatName: options.inputFormat, start: options.start, duration: options.duration,
                                     window: window, decodingThreads: options.codecThreads)
        var converter = options.frameRate.map { rate in
            FrameRateConverter(rate: av_d2q(rate, 1_001_000), inputTimeBase: reader.timeBase,
                               inputRate: av_guess_frame_rate(reader.demuxer.context, reader.videoStream, nil),
                               end: options.duration.map { Int64(($0 / av_q2d(reader.timeBase)).rounded()) })
        }
        var video = VideoWriter.VideoDescription(reader)
        if let converter {
            video.frameRate = converter.rate
            video.timeBase = converter.timeBase
        }
        // A piece is video only: `join` takes the other streams from the source, once.
        let writer = try VideoWriter(destination: output, video: video, reader: window == nil ? reader : nil, options: options)
        // Items read ahead of the pipeline (a pipe's first frame and the packets before it).
        var readAhead: [VideoInputItem] = []
        var identity: StyleVector?
        if timeline.needsIdentity {
            if let given = options.identity {
                identity = given
            } else if input == "-" {
                // A pipe cannot be read twice: the first frame stands for the clip.
                while let item = try reader.next() {
                    readAhead.append(item)
                    if case .frame(let frame, _) = item {
                        identity = try stylizer.styleVector(for: Picture(frame: frame))
                        break
                    }
                }
                guard identity != nil else { throw StylizeError.unreadable(path: input, reason: "no video frames") }
            } else {
                identity = try identityVector(of: input)
            }
        }
        // Frame indices (#N keyframes) count the input's frames, also when --fps changes the rate.
        let frameRate = converter != nil ? av_guess_frame_rate(reader.demuxer.context, reader.videoStream, nil) : writer.encoder.context.pointee.framerate
        let schedule = ConditioningSchedule(transformer: stylizer.transformer, timeline: timeline,
                                            frameRate: frameRate.num > 0 ? av_q2d(frameRate) : 25, identity: identity)
        let total = options.frames?.count ?? estimatedFrames(reader, rate: options.frameRate)
        if options.filmstrip != nil && total == nil {
            throw StylizeError.invalidArgument("a filmstrip needs the clip's length, which this input does not tell")
        }
        let filmstrip = options.filmstrip.map { Filmstrip(url: $0, count: options.filmstripFrames, total: total!) }

        // The transformer sees frames as decoded; a turn for the container comes after it.
        let turned = writer.pixelRotation % 180 != 0
        let (processWidth, processHeight) = options.networkSize(width: turned ? writer.height : writer.width,
                                                                height: turned ? writer.width : writer.height)
        let workerCount = options.workers ?? VideoOptions.defaultWorkers(width: processWidth, height: processHeight)
        // Stabilization needs frames in order, so its blend runs in the writing stage; the workers
        // measure each frame's motion back to the one before (the reading stage hands them both
        // lumas). Without it the workers finish each frame themselves.
        let stabilizer = options.stabilization > 0 ? TemporalStabilizer(strength: options.stabilization) : nil
        let stabilizes = stabilizer != nil
        let workers = try (0..<workerCount).map { _ in
            (try stylizer.makeWorker(precision: options.precision, threads: VideoOptions.threads(forWorkers: workerCount)), FrameConverter(),
             stabilizes ? try? OpticalFlow(TemporalStabilizer.flowSettings) : nil)
        }
        let lumaReader = LumaReader()
        var lastLuma: LumaPlane?
        let counter = FrameCounter(total: total, progress: progress)
        let writerConverter = FrameConverter()
        var written = 0
        let (rotation, outWidth, outHeight, outFormat, outColors) = (writer.pixelRotation, writer.width, writer.height, writer.pixelFormat, writer.colors)
        // Stabilized frames are blended as the encoder takes them (YUV, most often) where the
        // stabilizer can blend that pixel format and the picture is not turned on the way;
        // otherwise in RGB, before they are converted.
        let blendsFrames = try stabilizer != nil && rotation == 0
            && OpticalFlow.planes(of: Frame(width: outWidth, height: outHeight, format: outFormat)) != nil
        /// The encoder's frame for `stylized`; offered to the filmstrip as frame `index` unless nil.
        @Sendable func encode(_ stylized: RGBImage, pts: Int64, aspect: AVRational, index: Int?, converter: FrameConverter) throws -> Frame {
            let turned = stylized.rotated(clockwise: rotation)
            if let index { try filmstrip?.offer(index, turned) }
            let frame = try converter.frame(from: turned, width: outWidth, height: outHeight, format: outFormat, colors: outColors)
            frame.pointer.pointee.pts = pts
            frame.pointer.pointee.sample_aspect_ratio = aspect
            return frame
        }
        let keepColors = options.preserveColors ? writer.colors.lumaWeights : nil
        // 4:2:0 in (8- or 10-bit) and 8-bit 4:2:0 out at the network's size, as most clips are:
        // the network converts colours in its first and last copies (YUV420Conversion), and no
        // RGB picture is made.
        let directOutput = rotation == 0 && keepColors == nil && outWidth == processWidth && outHeight == processHeight
            && (!stabilizes || blendsFrames)
            ? YUV420Conversion(format: outFormat, colors: outColors, chromaLocation: AVCHROMA_LOC_UNSPECIFIED).flatMap { $0.depth == 8 ? $0 : nil }
            : nil
        /// `frame` stylized straight into the encoder's format, where both sides allow it.
        @Sendable func directlyEncoded(_ frame: Frame, index: Int, worker: TransformerWorker, conditioning: StyleConditioning) throws -> Frame? {
            guard let directOutput, frame.width == outWidth, frame.height == outHeight, filmstrip?.targets.contains(index) != true,
                  let conversion = YUV420Conversion(of: frame) else { return nil }
            let output = try Frame(width: outWidth, height: outHeight, format: outFormat)
            outColors.tag(output)
            try worker.stylize(frame, conversion, conditioning, into: output, directOutput)
            output.pointer.pointee.sample_aspect_ratio = frame.pointer.pointee.sample_aspect_ratio
            return output
        }
        typealias Job = (frame: Frame, pts: Int64, index: Int, conditioning: StyleConditioning, warmup: Bool,
                         luma: (current: LumaPlane, previous: LumaPlane?, scale: Int)?)
        /// The motion of a frame back to the one before, for the stabilizer.
        @Sendable func motion(_ luma: (current: LumaPlane, previous: LumaPlane?, scale: Int), flow: OpticalFlow?) -> TemporalStabilizer.Motion {
            var motion = TemporalStabilizer.Motion(luma: luma.current, scale: luma.scale, width: processWidth, height: processHeight)
            if let previous = luma.previous, let flow { motion.measure(against: previous, flow: flow) }
            return motion
        }
        let pipeline = OrderedPipeline<(TransformerWorker, FrameConverter, OpticalFlow?), Job, VideoOutputItem>(
            workers: workers, framesInFlight: options.framesInFlight,
            process: { worker, job in
                if let frame = try directlyEncoded(job.frame, index: job.index, worker: worker.0, conditioning: job.conditioning) {
                    frame.pointer.pointee.pts = job.pts
                    guard let luma = job.luma else { return .frame(frame) }
                    return .encoded(input: motion(luma, flow: worker.2), frame: frame, written: !job.warmup)
                }
                let image = try worker.1.rgbImage(from: job.frame, width: processWidth, height: processHeight)
                let stylized: RGBImage
                if let luma = keepColors {
                    stylized = try worker.0.stylize(image, job.conditioning).keepingColors(of: image, luma: luma)
                } else {
                    // Handed over: the network's output reuses the input's memory.
                    stylized = try worker.0.stylize(consume image, job.conditioning)
                }
                let aspect = job.frame.pointer.pointee.sample_aspect_ratio
                guard let luma = job.luma else { return .frame(try encode(stylized, pts: job.pts, aspect: aspect, index: job.index, converter: worker.1)) }
                let motion = motion(luma, flow: worker.2)
                if blendsFrames {
                    let frame = try encode(stylized, pts: job.pts, aspect: aspect, index: nil, converter: worker.1)
                    return .encoded(input: motion, frame: frame, written: !job.warmup)
                }
                if job.warmup { return .warmup(input: motion, stylized: Handover(stylized)) }
                return .image(input: motion, stylized: Handover(stylized), pts: job.pts, aspect: aspect)
            },
            write: { item in
                switch item {
                case .warmup(let input, let stylized):
                    // Before a piece's first frame: only the stabilizer's state needs it.
                    _ = stabilizer!.stabilize(input, stylized: stylized.take())
                    return
                case .image(let input, let stylized, let pts, let aspect):
                    let steady = stabilizer!.stabilize(input, stylized: stylized.take())
                    try writer.write(.frame(encode(steady, pts: pts, aspect: aspect, index: written, converter: writerConverter)))
                case .encoded(let input, let frame, let isWritten):
                    stabilizer!.stabilize(input, frame: frame)
                    guard isWritten else { return }
                    if let filmstrip, filmstrip.targets.contains(written) {
                        try filmstrip.offer(written, writerConverter.rgbImage(from: frame, width: frame.width, height: frame.height))
                    }
                    try writer.write(.frame(frame))
                default:
                    try writer.write(item)
                }
                if case .packet = item { return }
                written += 1
                counter.increment()
            })
        var index = 0
        // Frames at the asked rate, on their ticks, waiting to be handed on.
        var ticked: [(frame: Frame, tick: Int64)] = []
        /// The next item: with a frame rate asked, frames come from the converter on its ticks.
        func next() throws -> VideoInputItem? {
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
        let frameTimeBase = converter?.timeBase ?? reader.timeBase
        do {
            try pipeline.run {
                if isCancelled?() == true { throw CancellationError() }
                switch try next() {
                case .frame(let frame, let pts)?:
                    // Keyframe times are on the input's timeline, so a cut does not move them.
                    let seconds = Double(pts) * av_q2d(frameTimeBase) + (options.start ?? 0)
                    defer { index += 1 }
                    let warmup = reader.isWarmup(pts)
                    // Only a stabilizer needs warm-up frames (none are asked for without one).
                    var luma: (current: LumaPlane, previous: LumaPlane?, scale: Int)?
                    if stabilizes {
                        let (plane, scale) = try lumaReader.luma(of: frame, width: processWidth, height: processHeight)
                        luma = (plane, lastLuma, scale)
                        lastLuma = plane
                    }
                    return .work((frame, pts, index, try schedule.conditioning(at: seconds), warmup && stabilizer != nil, luma))
                case .packet(let packet, let stream)?: return .passThrough(.packet(packet, stream: stream))
                case nil: return nil
                }
            }
            guard counter.value > 0 else { throw noFrames(input, reader) }
            try writer.finish()
        } catch {
            writer.muxer.abandon()
            throw error
        }
        try filmstrip?.write(overwrite: options.overwrite)
        let seconds = Date().timeIntervalSince(started)
        var summary = VideoSummary(input: input, output: output, frames: counter.value, seconds: seconds,
                                   framesPerSecond: Double(counter.value) / max(seconds, 1e-9), width: writer.width, height: writer.height,
                                   videoCodec: writer.codecName,
                                   streams: writer.notes + (stabilizer.map { [FrameSequenceStylizer.note($0, options.stabilization)] } ?? []))
        summary.damaged = reader.damaged
        if reader.damaged > 0 { summary.warnings.append("\(reader.damaged) damaged video packets or frames were skipped") }
        if let early = reader.endedEarly { summary.warnings.append("the input ends early (\(early)); everything before that was stylized") }
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

    /// The frames a piece job decodes, warms up on and writes, from the input's packets.
    func pieceWindow(_ frames: Range<Int>, of input: String) throws -> FrameWindow {
        guard input != "-" else { throw StylizeError.invalidArgument("a piece of a clip (frames) needs a file, not a pipe") }
        let index = try options.layout?.frameIndex(for: input)
            ?? VideoFrameIndex(path: input, formatName: options.inputFormat, through: frames.upperBound)
        guard frames.upperBound <= index.count else {
            throw StylizeError.invalidArgument("frames \(frames.lowerBound)..\(frames.upperBound) go past the end of \(input), which has \(index.count) frames")
        }
        let warmup = options.stabilization > 0 ? (options.warmup ?? VideoOptions.defaultWarmup(stabilization: options.stabilization)) : 0
        return FrameWindow(decodeFrom: index.timestamps[max(0, frames.lowerBound - warmup)],
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
    private let progress: (@Sendable (VideoProgress) -> Void)?

    init(total: Int? = nil, progress: (@Sendable (VideoProgress) -> Void)? = nil) {
        self.total = total
        self.progress = progress
    }

    var value: Int { lock.lock(); defer { lock.unlock() }; return count }

    func increment() {
        lock.lock()
        count += 1
        let done = count
        lock.unlock()
        progress?(VideoProgress(framesDone: done, framesTotal: total.map { max($0, done) }, seconds: Date().timeIntervalSince(started)))
    }
}

/// Where a clip is read from or written to.
public enum ClipLocation: Sendable, Hashable {
    /// A file.
    case file(URL)
    /// Standard input as a source, standard output as a destination: pipes (name the output
    /// container in `VideoOptions.outputFormat`).
    case standardStream

    /// The path FFmpeg opens, as the user gave it where that names the same file ("-" for a pipe).
    var path: String {
        switch self {
        case .file(let url): return url.displayPath
        case .standardStream: return "-"
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
