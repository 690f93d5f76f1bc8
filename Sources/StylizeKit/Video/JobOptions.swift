import Foundation

/// Everything a job (a clip, a frame sequence or a picture) can be told, with its defaults:
/// the look, the stabilizer, the encoding and the cut. The command line only maps flags onto it.
public struct JobOptions: Sendable {
    /// Shorter side, in pixels, at which the transformer runs; frames are scaled back to their
    /// own size for encoding. nil runs at the clip's resolution.
    public var processingSize: Int?
    /// Frames sampled (evenly over the clip) for the clip's own style vector, which strengths
    /// below 1 blend towards. Computed once per clip, never per frame.
    public var identitySamples: Int = 5
    /// The network's precision (`.auto`: what measures fastest here).
    public var precision: Precision = .auto
    /// Keep each frame's own colours and take only the luminance from the stylized frame
    /// (`RGBImage.keepingColors(of:luma:)`, with the luma of the output's YUV matrix). With a
    /// processing size, the colours are taken at that size.
    public var preserveColors = false
    /// Start of the part to stylize, in seconds from the beginning of the clip.
    public var start: Double?
    /// A piece of the clip for a job split across processes or machines: exactly frames
    /// `frames.lowerBound` to `frames.upperBound - 1` (presentation order, from 0), written
    /// video only, on the source's timeline, for `stylize join` to put together with no
    /// re-encode. Not with `start`, `duration` or pipes.
    package var frames: Range<Int>?
    /// Frames before `frames.lowerBound` run through the stabilizer (not written) so that its
    /// state matches a single-process job's; nil picks `defaultWarmup(stabilization:)`.
    package var warmup: Int?
    /// The clip's frames as `stylize probe --timestamps` recorded them: a piece then finds its
    /// frames without scanning the file's packets up to them.
    package var layout: ClipLayout?
    /// The content's own style vector for strengths below 1, when it is computed once for all
    /// pieces of a split job; nil computes it from the clip.
    public var identity: StyleVector?
    /// Recorded in a piece's metadata (`stylize_options`): `join` refuses pieces made with
    /// different settings.
    package var pieceSignature: String?
    /// Length of the part to stylize, in seconds.
    public var duration: Double?
    /// Constant-quality setting of the video encoder; nil picks the codec's default here
    /// (15 for H.264, 20 for H.265, 31 for VP9 and AV1).
    public var crf: Int?
    /// The encoder's speed preset (libx264 and libx265: ultrafast ... placebo; libsvtav1: 0-13);
    /// nil picks ultrafast for H.264 and H.265. Stylized frames are full of fine texture and cost
    /// several times more to encode than camera footage: slower presets take longer than the
    /// transformer itself, while ultrafast at CRF 15 keeps up, with larger files.
    public var preset: String?
    /// Video encoder by FFmpeg name (libx264, libx265, libvpx-vp9, libaom-av1, ...); nil
    /// picks what the output container prefers, as ffmpeg does.
    public var codec: String?
    /// Frames per second of the output; nil keeps the input's timing (every frame, with its own
    /// timestamp). A constant rate repeats or drops frames as ffmpeg's fps filter does, before
    /// the network, so that dropped frames cost nothing.
    public var frameRate: Double?
    /// Size of the output's frames; nil keeps the input's. A side left nil follows the
    /// picture's shape. The network runs at this size (or at `processingSize`).
    public var outputSize: FrameSize?
    /// The input's audio: copied (the default), re-encoded or left out.
    public var audio = AudioOptions()
    /// Container of the output by FFmpeg name (mp4, matroska, nut, ...); nil guesses from the
    /// extension. Required when writing to "-".
    public var outputFormat: String?
    /// Container of the input, for pipes that cannot be probed.
    public var inputFormat: String?
    /// Whether an existing output may be replaced.
    public var overwrite = false
    /// Whether the encoder and muxer give each frame out at once (live jobs set it).
    var lowLatency = false
    /// Transformer workers, each with its own scratch memory, stylizing frames at once; nil
    /// picks `defaultWorkers(width:height:)` for clips and for frame sequences (by their first
    /// frame), and 1 for a watched folder.
    public var workers: Int?

    /// Workers for frames of `width` x `height` when none are asked for: two (each frame on an
    /// even share of the cores) up to 1280x720, where overlapping two frames keeps the cores
    /// busy while the other stages run (docs/speed.md); one above, where a second worker's
    /// buffers cost more memory than its speed is worth.
    public static func defaultWorkers(width: Int, height: Int) -> Int {
        width * height <= 1280 * 720 && ProcessInfo.processInfo.activeProcessorCount >= 2 ? 2 : 1
    }

    /// Warm-up frames for a piece: enough that the stabilizer's memory of frames before the
    /// warm-up has faded below 1/1000 (it keeps at most `TemporalStabilizer.memory` of the
    /// previous output per frame), at most 64, and none without stabilization.
    public static func defaultWarmup(stabilization: Double) -> Int {
        guard stabilization > 0 else { return 0 }
        let memory = TemporalStabilizer.memory(strength: stabilization)
        guard memory < 1 else { return 64 }
        return min(64, Int((log(0.001) / log(memory)).rounded(.up)))
    }

    /// Threads each of `workers` workers runs a frame on: with one worker every core, with
    /// several an even share of the cores each.
    static func threads(forWorkers workers: Int) -> Int? {
        workers > 1 ? max(1, ProcessInfo.processInfo.activeProcessorCount / workers) : nil
    }
    /// The transformer's input size for frames of `width` x `height`: theirs, or their shorter
    /// side at `processingSize`.
    func networkSize(width: Int, height: Int) -> (Int, Int) {
        guard let size = processingSize else { return (width, height) }
        let scale = Double(size) / Double(min(width, height))
        return (max(StyleTransformer.minimumSide, Int((Double(width) * scale).rounded())),
                max(StyleTransformer.minimumSide, Int((Double(height) * scale).rounded())))
    }

    /// Threads for decoding or encoding frames of `width` x `height` (as FFmpeg's
    /// `thread_count`): 1, the stage's own thread, when the network runs at a quarter of their
    /// pixels or more, and 0, FFmpeg's choice, when `processingSize` shrinks them further.
    /// Decoding and the fastest encoding then take a small share of a frame's time, and codec
    /// threads would only take turns with the workers for the cores and hold frames of their
    /// own. Frames shrunk further before the network cost the codecs more than the network,
    /// and their threads pay for themselves.
    func codecThreads(width: Int, height: Int) -> Int {
        guard width > 0 && height > 0 else { return 0 }  // not known before decoding
        let (networkWidth, networkHeight) = networkSize(width: width, height: height)
        return width * height <= 4 * networkWidth * networkHeight ? 1 : 0
    }

    /// Frames decoded but not yet encoded, at most: bounds memory whatever the clip length.
    public var framesInFlight: Int = 4
    /// Temporal stabilization (0 turns it off): how much of the previous output, moved along the
    /// optical flow, a frame keeps where the flow can be trusted. See `TemporalStabilizer`.
    public var stabilization: Double = 0.7
    /// Where to write a filmstrip: `filmstripFrames` output frames evenly spaced over the job,
    /// side by side in one picture, to check a transition at a glance.
    public var filmstrip: URL?
    /// How many frames the filmstrip shows.
    public var filmstripFrames: Int = 8

    /// The defaults: the whole clip, stabilized, in the codec its container suggests.
    public init() {}

    func validate() throws {
        if let size = processingSize, size < StyleTransformer.minimumSide {
            throw StylizeError.invalidArgument("size must be at least \(StyleTransformer.minimumSide) pixels, got \(size)")
        }
        // A year is far beyond any clip and keeps every timestamp computation in range.
        let year = 366.0 * 24 * 3600
        if let start, !(0...year).contains(start) { throw StylizeError.invalidArgument("start must be between 0 and a year, got \(start)") }
        if let duration, !(duration > 0 && duration <= year) { throw StylizeError.invalidArgument("duration must be positive and at most a year, got \(duration)") }
        if let crf, !(0...63).contains(crf) { throw StylizeError.invalidArgument("crf must be between 0 and 63, got \(crf)") }
        guard (0...1).contains(stabilization) else { throw StylizeError.invalidArgument("stabilization must be between 0 and 1, got \(stabilization)") }
        guard (2...64).contains(filmstripFrames) else { throw StylizeError.invalidArgument("a filmstrip has 2 to 64 frames, not \(filmstripFrames)") }
        if let filmstrip { _ = try Picture.OutputFormat(for: filmstrip) }
        if let frames {
            guard frames.lowerBound >= 0, !frames.isEmpty else { throw StylizeError.invalidArgument("frames must be a non-empty range A..B with 0 <= A < B") }
            guard start == nil, duration == nil else { throw StylizeError.invalidArgument("frames go without start and duration") }
        }
        if let warmup, warmup < 0 { throw StylizeError.invalidArgument("warm-up must not be negative") }
        if let frameRate {
            guard frameRate > 0 && frameRate <= 1000 else { throw StylizeError.invalidArgument("the frame rate must be above 0 and at most 1000, got \(frameRate)") }
            guard frames == nil else { throw StylizeError.invalidArgument("a piece keeps the source's frames; a frame rate goes with whole clips") }
        }
        if frames != nil && audio != AudioOptions() {
            throw StylizeError.invalidArgument("a piece is video only (join takes the audio from the source); audio options go with whole clips")
        }
        if let outputSize {
            for side in [outputSize.width, outputSize.height].compactMap({ $0 }) where !(StyleTransformer.minimumSide...16384).contains(side) {
                throw StylizeError.invalidArgument("an output side must be from \(StyleTransformer.minimumSide) to 16384 pixels, got \(side)")
            }
            guard frames == nil else { throw StylizeError.invalidArgument("a piece keeps the source's size; an output size goes with whole clips") }
        }
        guard workers ?? 1 >= 1, framesInFlight >= 1 else { throw StylizeError.invalidArgument("workers and frames in flight must be positive") }
    }
}

/// A frame size in pixels; a side left nil follows the picture's shape.
public struct FrameSize: Sendable, Equatable {
    /// Pixels across; nil follows the height and the shape.
    public var width: Int?
    /// Pixels down; nil follows the width and the shape.
    public var height: Int?

    /// A size with either side (not both) left to follow the shape.
    public init(width: Int?, height: Int?) {
        self.width = width
        self.height = height
    }

    /// Parses "1280x720", "1280:720", "1280x-1" or "-1x720" (-1 or -2: follow the shape, as
    /// in ffmpeg's scale filter).
    public init(parsing text: String) throws {
        let parts = text.split(whereSeparator: { $0 == "x" || $0 == ":" }).map(String.init)
        let sides = parts.map { Int($0) }
        guard parts.count == 2, let w = sides[0], let h = sides[1], w > 0 || h > 0, w > 0 || w == -1 || w == -2, h > 0 || h == -1 || h == -2 else {
            throw StylizeError.invalidArgument("bad size \"\(text)\": use WIDTHxHEIGHT, with -1 for a side that follows the shape (1280x720, 640x-1)")
        }
        self.init(width: w > 0 ? w : nil, height: h > 0 ? h : nil)
    }

    /// The size for a picture of `width` x `height`.
    func resolved(width: Int, height: Int) -> (width: Int, height: Int) {
        switch (self.width, self.height) {
        case let (w?, h?): return (w, h)
        case let (w?, nil): return (w, max(1, Int((Double(height) * Double(w) / Double(width)).rounded())))
        case let (nil, h?): return (max(1, Int((Double(width) * Double(h) / Double(height)).rounded())), h)
        case (nil, nil): return (width, height)
        }
    }
}

/// How far a job has got, for progress bars; return false from the callback to stop the job.
public struct JobProgress: Sendable {
    /// Frames written so far.
    public var framesDone: Int
    /// An estimate from the container's duration and frame rate; nil when unknown.
    public var framesTotal: Int?
    /// Seconds since the job started.
    public var seconds: Double
    /// Frames written per second so far.
    public var framesPerSecond: Double { seconds > 0 ? Double(framesDone) / seconds : 0 }

    /// A report with each value given.
    public init(framesDone: Int, framesTotal: Int? = nil, seconds: Double) {
        self.framesDone = framesDone
        self.framesTotal = framesTotal
        self.seconds = seconds
    }
}

/// What a finished job did.
public struct JobSummary: Sendable, Codable {
    /// The input, as given ("-" for standard input).
    public var input: String
    /// The output, as given ("-" for standard output).
    public var output: String
    /// Frames written.
    public var frames: Int
    /// Seconds the job took.
    public var seconds: Double
    /// Frames written per second.
    public var framesPerSecond: Double
    /// The output's width in pixels.
    public var width: Int
    /// The output's height in pixels.
    public var height: Int
    /// The video encoder used.
    public var videoCodec: String
    /// Streams copied unchanged, re-encoded, or left out (and why), one line each.
    public var streams: [String]
    /// Input frames (or video packets) that could not be decoded and were skipped.
    public var damaged: Int = 0
    /// Problems that did not stop the job: a truncated input, frames skipped, ...
    public var warnings: [String] = []
    /// Peak resident memory of the process, in MiB.
    public var peakMemoryMiB: Double = currentPeakMemoryMiB()
    /// What a live job measured (frames dropped, latency); nil for other jobs.
    public var live: LiveStatistics?
    /// CPU seconds the process spent while the job ran, all threads together; nil where not
    /// measured (only clip jobs measure it).
    public var cpuSeconds: Double?
    /// CPU seconds of those that the stabilizer took: shrinking lumas, measuring motion and
    /// blending. nil where not measured or not stabilized. Its share of `cpuSeconds` is about
    /// the share of the rate that stabilizing costs, measured within one run, which the wall
    /// clock on a shared machine cannot give to a few percent.
    public var stabilizerCPUSeconds: Double?

    /// A summary with each value given.
    public init(input: String, output: String, frames: Int, seconds: Double, framesPerSecond: Double, width: Int, height: Int,
                videoCodec: String, streams: [String], damaged: Int = 0, warnings: [String] = []) {
        self.input = input
        self.output = output
        self.frames = frames
        self.seconds = seconds
        self.framesPerSecond = framesPerSecond
        self.width = width
        self.height = height
        self.videoCodec = videoCodec
        self.streams = streams
        self.damaged = damaged
        self.warnings = warnings
    }
}

/// The process's peak resident memory so far (getrusage), in MiB.
func currentPeakMemoryMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
}

/// The options of a job, named for clips when they were the only jobs.
@available(*, deprecated, renamed: "JobOptions")
public typealias VideoOptions = JobOptions
/// A job's progress, named for clips when they were the only jobs.
@available(*, deprecated, renamed: "JobProgress")
public typealias VideoProgress = JobProgress
/// A job's summary, named for clips when they were the only jobs.
@available(*, deprecated, renamed: "JobSummary")
public typealias VideoSummary = JobSummary
