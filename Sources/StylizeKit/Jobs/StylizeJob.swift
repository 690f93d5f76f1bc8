import Foundation

/// One job, described as a value: what is read, what is written, the style over time, and how
/// it runs (the look, the stabilizer, the encoding and the cut). The command line, the studio
/// and library callers make the same value; `validate()` checks it in one place, `run` runs it,
/// and `commandLine` gives the `stylize` command that does the same.
public struct StylizeJob: Sendable {
    /// What a job reads.
    public enum Source: Sendable, Hashable {
        /// A clip (any container and codec FFmpeg reads), or standard input.
        case clip(ClipLocation)
        /// A frame sequence: a folder, or a glob or printf pattern of files.
        case frames(URL)
        /// One picture.
        case picture(URL)
        /// A live source (a camera, a screen, a stream), stylized as it comes until the job is
        /// stopped or the source ends; the output is a file, a stream URL or a device.
        case live(LiveInput)
    }

    /// The style over the job: one style at a strength, or keyframes the style moves between.
    public enum Style: Sendable, Equatable {
        /// One style for every frame at `strength` (0...1).
        case single(StyleSpec, strength: Double = 1)
        /// Keyframes, with the pace of the transitions between them.
        case keyframes([KeyframeSpec], easing: Easing = .linear)
    }

    /// What the job reads.
    public var source: Source
    /// Where the result goes: a file (a clip, a picture, a video made of frames, or a folder
    /// for frames), standard output for a clip or a live job, or a stream URL or device for a
    /// live job.
    public var output: ClipLocation
    /// The style, or keyframes the style moves between.
    public var style: Style
    /// The side style pictures are read at (`StylePredictor.sideRange`); a smaller side gives
    /// bigger brush features.
    public var styleSize = StylePredictor.inputSize
    /// The look, the stabilizer, the encoding and the cut, for every kind of source.
    public var options = JobOptions()
    /// What only frame sequences use: the rate of a video made of them, the pictures' format,
    /// watching and resuming. Its `video` options are `options`.
    public var sequence = FrameSequenceOptions()
    /// The keyframes file the keyframes were read from, which the command line names instead
    /// of listing them.
    public var keyframesFile: String?
    /// The vector file `options.identity` was read from, for the command line.
    public var identityFile: String?
    /// Where the style goes, when a mask decides it; nil: everywhere.
    public var regions: Regions?
    /// For a live job: the style it starts with and changes to while it runs. Nil: the job's
    /// `style`, fixed. The job keeps a reference, so changes made through it reach the run.
    public var liveStyle: LiveStyle?

    /// A job with the default look: stabilized clips, each stream kept.
    public init(source: Source, output: ClipLocation, style: Style) {
        self.source = source
        self.output = output
        self.style = style
    }

    /// Whether the job reads a live source.
    public var isLive: Bool {
        if case .live = source { return true }
        return false
    }

    /// The strength of a single style (1 for keyframes, whose keys carry their own).
    public var strength: Double {
        if case .single(_, let strength) = style { return strength }
        return 1
    }

    /// Checks what can be checked before anything is read, throwing
    /// `StylizeError.invalidArgument` with a one-line reason.
    public func validate() throws {
        try options.validate()
        try StyleVector.check(strength: strength)
        if case .keyframes(let keys, _) = style {
            guard !keys.isEmpty else { throw StylizeError.invalidArgument("keyframes need at least one key") }
            for key in keys { try StyleVector.check(strength: key.strength, name: "keyframe strength") }
        }
        guard StylePredictor.sideRange.contains(styleSize) else {
            throw StylizeError.invalidArgument("style size must be from \(StylePredictor.sideRange.lowerBound) to \(StylePredictor.sideRange.upperBound) pixels, got \(styleSize)")
        }
        if case .stream = output, !isLive { throw StylizeError.invalidArgument("only a live job writes to a stream URL or a device") }
        switch source {
        case .clip: break
        case .live:
            if output == .standardStream && options.outputFormat == nil {
                throw StylizeError.invalidArgument("writing to standard output needs the output container named")
            }
        default:
            if options.start != nil || options.duration != nil { throw StylizeError.invalidArgument("a start and a length go with clips") }
            if output == .standardStream { throw StylizeError.invalidArgument("only a clip or a live source can be written to standard output") }
        }
        if case .picture = source, case .keyframes = style {
            throw StylizeError.invalidArgument("keyframes need a clip or a frame sequence; a picture takes one style")
        }
        if case .live(let input) = source { try validateLive(input) }
        if let regions { try validate(regions) }
    }

    private func validate(_ regions: Regions) throws {
        try regions.validate()
        switch source {
        case .clip, .frames, .live: break
        case .picture:
            if case .keyframes = regions.outside {
                throw StylizeError.invalidArgument("the outside's keyframes need a clip or a frame sequence; a picture takes one outside style")
            }
        }
        if isLive, case .keyframes = regions.outside {
            throw StylizeError.invalidArgument("a live source takes one outside style, not keyframes")
        }
    }

    /// The regions with the outside's style computed (its vectors from `vectors`, else by
    /// `stylizer`), for the stages.
    func regionSetup(with stylizer: Stylizer, vectors: StyleVectors? = nil) throws -> RegionSetup? {
        guard let regions else { return nil }
        switch regions.outside {
        case .original:
            return RegionSetup(regions: regions, outside: nil)
        case .style(let spec, let strength):
            return RegionSetup(regions: regions, outside: try timeline(of: .single(spec, strength: strength), stylizer: stylizer, vectors: vectors))
        case .keyframes(let keys, let easing):
            return RegionSetup(regions: regions, outside: try timeline(of: .keyframes(keys, easing: easing), stylizer: stylizer, vectors: vectors))
        }
    }

    private func validateLive(_ input: LiveInput) throws {
        try input.validate()
        if case .keyframes = style {
            throw StylizeError.invalidArgument("a live source takes one style, which can be changed while it runs, not keyframes")
        }
        if options.start != nil { throw StylizeError.invalidArgument("a live source has no start to seek to; a length can be given") }
        if options.frameRate != nil || options.frames != nil || options.filmstrip != nil {
            throw StylizeError.invalidArgument("a live source takes no frame rate, piece or filmstrip")
        }
    }

    /// Where a job's style vectors come from, when not from the stylizer: the vector of a
    /// style at a style size. A caller that keeps vectors between jobs (the studio, between
    /// previews) hands in its own.
    public typealias StyleVectors = (_ spec: StyleSpec, _ styleSize: Int) throws -> StyleVector

    /// Every style vector the job needs, computed once, as a timeline. `vectors`, when given,
    /// provides each style's vector instead of `stylizer`.
    public func timeline(with stylizer: Stylizer, vectors: StyleVectors? = nil) throws -> StyleTimeline {
        try timeline(of: style, stylizer: stylizer, vectors: vectors)
    }

    /// `style` over time at the job's style size, each distinct style's vector asked for once.
    private func timeline(of style: Style, stylizer: Stylizer, vectors: StyleVectors?) throws -> StyleTimeline {
        let vector = { (spec: StyleSpec) in try vectors?(spec, styleSize) ?? stylizer.styleVector(for: spec, styleSize: styleSize) }
        switch style {
        case .single(let spec, let strength):
            return try StyleTimeline(constant: vector(spec), strength: strength)
        case .keyframes(let keys, let easing):
            return try Stylizer.timeline(keys, easing: easing, vector: vector)
        }
    }

    /// The style as summaries name it: the spec, or each keyframe as TIME=STYLE@STRENGTH.
    public var styleDescription: String {
        switch style {
        case .single(let spec, _): return spec.description
        case .keyframes(let keys, _): return keys.map { "\($0.time)=\($0.style)@\($0.strength)" }.joined(separator: " ")
        }
    }

    /// Runs the job on the calling thread. `progress` is called once per frame written;
    /// when `isCancelled` returns true the job throws `CancellationError` (a clip or a video
    /// leaves no output; a folder keeps the frames finished). A picture counts as one frame.
    /// A live job runs until `isCancelled` returns true or its source ends, and then finishes
    /// its output and returns its summary, with `JobSummary.live`.
    public func run(with stylizer: Stylizer, progress: (@Sendable (JobProgress) -> Void)? = nil,
                    isCancelled: (@Sendable () -> Bool)? = nil) throws -> JobSummary {
        try validate()
        return try run(with: stylizer, timeline: timeline(with: stylizer), progress: progress, isCancelled: isCancelled)
    }

    /// Runs the job with a timeline already computed (`timeline(with:)`).
    public func run(with stylizer: Stylizer, timeline: StyleTimeline, progress: (@Sendable (JobProgress) -> Void)? = nil,
                    isCancelled: (@Sendable () -> Bool)? = nil) throws -> JobSummary {
        switch source {
        case .clip(let input):
            return try VideoStylizer(stylizer: stylizer, options: options, regions: regionSetup(with: stylizer))
                .run(input: input, output: output, timeline: timeline, progress: progress, isCancelled: isCancelled)
        case .frames(let input):
            var sequence = sequence
            sequence.video = options
            return try FrameSequenceStylizer(stylizer: stylizer, options: sequence, regions: regionSetup(with: stylizer))
                .run(input: input, output: URL(fileURLWithPath: output.path), timeline: timeline, progress: progress, isCancelled: isCancelled)
        case .picture(let input):
            return try runPicture(input, stylizer: stylizer, timeline: timeline, progress: progress, isCancelled: isCancelled)
        case .live(let input):
            let (vector, strength) = timeline.value(at: 0, frameRate: 30)
            return try LiveStylizer(stylizer: stylizer, options: options, style: liveStyle ?? LiveStyle(vector, strength: strength),
                                    regions: regionSetup(with: stylizer))
                .run(input: input, output: output, progress: progress, isCancelled: isCancelled)
        }
    }

    /// Runs the job off the caller's thread; cancelling the task cancels the job.
    public func run(with stylizer: Stylizer, progress: (@Sendable (JobProgress) -> Void)? = nil) async throws -> JobSummary {
        try await runBlocking { isCancelled in try self.run(with: stylizer, progress: progress, isCancelled: isCancelled) }
    }

    /// Starts the job off the caller's thread and returns its handle: progress as an
    /// `AsyncSequence`, `cancel()`, and the summary at the end.
    public func start(with stylizer: Stylizer) -> JobHandle {
        JobHandle { progress in try await self.run(with: stylizer, progress: progress) }
    }

    /// One frame as the job paints it: `picture` (a frame of the source as stored) in the
    /// style `timeline` gives at `seconds` (blended towards `identity`, the content's own
    /// vector, where the strength is below 1), at the job's brush scale and in its colours,
    /// and with its regions, blended with the outside by the mask. This is what a preview
    /// shows. With `atNetworkSize` the picture stays at the size the network painted, for a
    /// caller that scales it anyway. `vectors`, when given, provides the outside's style
    /// vectors instead of `stylizer` (as in `timeline(with:vectors:)`).
    public func paint(_ picture: Picture, at seconds: Double, timeline: StyleTimeline, frameRate: Double, identity: StyleVector?,
                      stylizer: Stylizer, worker: TransformerWorker, atNetworkSize: Bool = false, vectors: StyleVectors? = nil) throws -> Picture {
        let paint = { (timeline: StyleTimeline) throws -> Picture in
            let vector = try timeline.effectiveVector(at: seconds, frameRate: frameRate, identity: identity)
            return try stylizer.stylize(picture, conditioning: stylizer.transformer.conditioning(for: vector), processingSize: self.options.processingSize,
                                        preserveColors: self.options.preserveColors, worker: worker, atNetworkSize: atNetworkSize)
        }
        let painted = try paint(timeline)
        guard let setup = try regionSetup(with: stylizer, vectors: vectors) else { return painted }
        let original = try picture.resized(width: painted.width, height: painted.height)
        return try setup.regions.blend(painted, outside: setup.outside.map(paint) ?? original, original: original,
                                       stored: storedMask(setup.regions, at: seconds, frameRate: frameRate))
    }

    /// The job's mask for `picture` (a frame of the source as stored) at `seconds`: 255 where
    /// the style goes, at the picture's size, as the job blends it. Nil without regions.
    public func regionMask(for picture: Picture, at seconds: Double, frameRate: Double) throws -> RegionMask? {
        guard let regions else { return nil }
        return try regions.mask(for: picture, stored: storedMask(regions, at: seconds, frameRate: frameRate))
    }

    /// The stored mask of the frame at `seconds` (a mask folder's by the frame's index at `frameRate`).
    private func storedMask(_ regions: Regions, at seconds: Double, frameRate: Double) throws -> Frame? {
        try MaskReader(regions.mask)?.mask(index: Int((seconds * frameRate).rounded()), seconds: seconds)
    }

    /// Runs a picture job on its picture, already read from the source's file (a caller that
    /// checked it before loading the models reads it once).
    package func run(_ picture: Picture, with stylizer: Stylizer) throws -> JobSummary {
        guard case .picture(let input) = source else { throw StylizeError.invalidArgument("only a picture job takes a picture") }
        try validate()
        return try paint(picture, from: input, stylizer: stylizer, timeline: timeline(with: stylizer), progress: nil, isCancelled: nil)
    }

    private func runPicture(_ input: URL, stylizer: Stylizer, timeline: StyleTimeline, progress: (@Sendable (JobProgress) -> Void)?,
                            isCancelled: (@Sendable () -> Bool)?) throws -> JobSummary {
        try paint(Picture(contentsOf: input), from: input, stylizer: stylizer, timeline: timeline, progress: progress, isCancelled: isCancelled)
    }

    private func paint(_ picture: Picture, from input: URL, stylizer: Stylizer, timeline: StyleTimeline,
                       progress: (@Sendable (JobProgress) -> Void)?, isCancelled: (@Sendable () -> Bool)?) throws -> JobSummary {
        let started = Date()
        let paint = { (timeline: StyleTimeline) throws -> Picture in
            let (vector, strength) = timeline.value(at: 0, frameRate: 30)
            return try stylizer.stylize(picture, style: vector, options: ImageStylizationOptions(
                processingSize: self.options.processingSize, strength: strength, precision: self.options.precision,
                preserveColors: self.options.preserveColors), worker: nil)
        }
        var painted = try paint(timeline)
        if let setup = try regionSetup(with: stylizer) {
            let stored = try MaskReader(setup.regions.mask)?.mask(index: 0, seconds: 0)
            painted = try setup.regions.blend(painted, outside: setup.outside.map(paint) ?? picture, original: picture, stored: stored)
        }
        if isCancelled?() == true { throw CancellationError() }
        try painted.write(to: URL(fileURLWithPath: output.path), overwrite: options.overwrite)
        let seconds = Date().timeIntervalSince(started)
        progress?(JobProgress(framesDone: 1, framesTotal: 1, seconds: seconds))
        return JobSummary(input: input.displayPath, output: output.path, frames: 1, seconds: seconds, framesPerSecond: 1 / max(seconds, 1e-9),
                            width: painted.width, height: painted.height, videoCodec: "picture", streams: [])
    }
}

/// A running job: its progress as an `AsyncSequence`, a way to stop it, and its summary.
public final class JobHandle: Sendable {
    /// One element per frame written, in order; the sequence ends when the job does. Read
    /// slower than frames are written, it keeps the newest 64.
    public let progress: AsyncStream<JobProgress>
    private let task: Task<JobSummary, Error>

    init(_ body: @escaping @Sendable (_ progress: @escaping @Sendable (JobProgress) -> Void) async throws -> JobSummary) {
        let (stream, continuation) = AsyncStream.makeStream(of: JobProgress.self, bufferingPolicy: .bufferingNewest(64))
        progress = stream
        task = Task {
            defer { continuation.finish() }
            return try await body { continuation.yield($0) }
        }
    }

    /// Stops the job; `summary` then throws `CancellationError` and no partial output is left.
    /// A live job instead finishes its output and `summary` gives what it measured.
    public func cancel() { task.cancel() }

    /// The job's summary once it ends, or the error that ended it.
    public var summary: JobSummary {
        get async throws { try await task.value }
    }
}
