import ArgumentParser
import Dispatch
import Foundation
import StylizeKit

/// Flags shared by `video` and `frames` that control the stylization itself.
struct ProcessingOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The style: a gallery name (stylize styles lists them), a picture, a .json vector file, or a mix a.jpg:0.7,b.json:0.3.")
    var style: String?

    @Option(name: .customLong("keyframe"), help: ArgumentHelp(
        "A style at a moment: TIME=STYLE[@STRENGTH], TIME in seconds (2.5), HH:MM:SS.mmm, or a frame index #N. Repeat it; between keyframes the style and strength move frame by frame, and hold before the first and after the last.",
        valueName: "time=style[@strength]"))
    var keyframes: [String] = []

    @Option(name: .customLong("keyframes"), help: ArgumentHelp("Keyframes from a JSON file: {\"ease\": \"smooth\", \"keyframes\": [{\"time\": \"0\", \"style\": \"a.jpg\", \"strength\": 1}, ...]}.", valueName: "file.json"))
    var keyframeFile: String?

    @Option(help: "Pace of the transitions between keyframes: linear, smooth, in, out or in-out (default: the keyframes file's, else linear).")
    var ease: Easing?

    @OptionGroup var look: LookOptions
    var strength: Double? { look.strength }
    var size: Int? { look.size }
    var preserveColors: Bool { look.preserveColors }
    var styleReading: StyleReadingOptions { look.styleReading }

    @Option(help: precisionHelp)
    var precision: Precision = .auto

    @Option(parsing: .unconditional, help: "Transformer workers (frames stylized at once, each on a share of the cores; default 2 up to 1280x720 (for frame sequences: the first frame), 1 above, and 1 with --watch).")
    var workers: Int?

    @Option(help: "Also write a filmstrip: evenly spaced output frames side by side in one picture (.png, .jpg, ...).")
    var filmstrip: String?

    @Option(help: "Frames in the filmstrip.")
    var filmstripFrames = 8

    @Option(parsing: .unconditional, help: "Temporal stabilization from 0 to 1: how much of the previous output, moved along the optical flow, a frame keeps where the flow can be trusted. Steadies crawling strokes; what comes into view and scene cuts are painted fresh.")
    var stabilize = 0.7

    @Flag(help: "Stylize every frame on its own (the same as --stabilize 0).")
    var noStabilize = false

    @OptionGroup var outputHandling: OutputHandling
    var overwrite: Bool { outputHandling.overwrite }
    var json: Bool { outputHandling.json }

    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        guard (0...1).contains(stabilize) else { throw ValidationError("--stabilize must be between 0 and 1") }
        guard workers ?? 1 >= 1 else { throw ValidationError("--workers must be at least 1") }
        let keyed = !keyframes.isEmpty || keyframeFile != nil
        if keyed && style != nil { throw ValidationError("give either -s STYLE or keyframes, not both") }
        if keyed && strength != nil { throw ValidationError("with keyframes, give strengths in them: TIME=STYLE@STRENGTH") }
        if !keyed && style == nil { throw ValidationError("give a style with -s STYLE, or keyframes with --keyframe TIME=STYLE") }
        if !keyed && ease != nil { throw ValidationError("--ease goes with keyframes") }
        for keyframe in keyframes { _ = try KeyframeSpec(parsing: keyframe) }
    }

    func apply(to options: inout JobOptions) {
        options.processingSize = size
        options.precision = precision
        options.preserveColors = preserveColors
        options.workers = workers
        options.framesInFlight = max(4, 2 * (workers ?? 1))
        options.overwrite = overwrite
        options.stabilization = noStabilize ? 0 : stabilize
        options.filmstrip = filmstrip.map { URL(fileURLWithPath: $0) }
        options.filmstripFrames = filmstripFrames
    }

    /// The style as the job takes it, and the keyframes file it names when there is one.
    func jobStyle() throws -> (style: StylizeJob.Style, keyframesFile: String?) {
        if let style {
            return (.single(try styleReading.parse(style), strength: strength ?? 1), nil)
        }
        var specs: [KeyframeSpec] = []
        var easing = ease
        if let keyframeFile {
            let file = try KeyframeFile.read(URL(fileURLWithPath: keyframeFile))
            specs += file.keyframes
            easing = easing ?? file.ease
        }
        specs += try keyframes.map(KeyframeSpec.init(parsing:))
        for spec in specs { noteShadowedGalleryStyles(spec.style) }
        return (.keyframes(specs, easing: easing ?? .linear), keyframes.isEmpty ? keyframeFile : nil)
    }

    /// A job from `source` to `output` with these settings (and `options`' other ones).
    func job(_ source: StylizeJob.Source, output: ClipLocation, options: JobOptions) throws -> StylizeJob {
        let (style, keyframesFile) = try jobStyle()
        var job = StylizeJob(source: source, output: output, style: style)
        job.options = options
        apply(to: &job.options)
        job.styleSize = styleReading.styleSize
        job.keyframesFile = keyframesFile
        return job
    }
}

extension Easing: ExpressibleByArgument {}

/// The video encoder's flags, for `video` and for `frames` written as a clip.
struct EncodingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Constant-quality level of the video encoder (lower is better; default 15 for H.264).")
    var crf: Int?

    @Option(help: "Speed preset of the video encoder (H.264/H.265: ultrafast, superfast, veryfast, faster, fast, medium, slow, ...; default ultrafast, which keeps up with the transformer; slower presets give smaller files).")
    var preset: String?

    @Option(help: "Video encoder by FFmpeg name: libx264, libx265, libvpx-vp9, libaom-av1, ...")
    var codec: String?

    /// Whether `output` names a video file rather than a folder (by extension, as
    /// `FrameSequenceStylizer.writesVideo` decides).
    func isVideo(_ output: String) -> Bool {
        FrameSequenceStylizer.videoExtensions.contains(URL(fileURLWithPath: output).pathExtension.lowercased())
    }

    func apply(to options: inout JobOptions) {
        options.crf = crf
        options.preset = preset
        options.codec = codec
    }
}

/// Ctrl-C and SIGTERM ask the running job to stop; the job then removes its partial output.
/// Sendable, unchecked: `signalNumber` is only read and written under `lock`.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var signalNumber: Int32?
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.lock.withLock { self?.signalNumber = number } }
            source.resume()
            sources.append(source)
        }
    }

    var requested: Int32? { lock.withLock { signalNumber } }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal. Sendable, unchecked:
/// the job reports from its writing thread, and `lastDraw` is only touched under `lock`.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private var lastDraw = Date.distantPast
    private let lock = NSLock()

    init(quiet: Bool) { enabled = !quiet && isatty(STDERR_FILENO) == 1 }

    func draw(_ p: JobProgress, force: Bool = false) {
        guard enabled else { return }
        let due = lock.withLock {
            guard force || Date().timeIntervalSince(lastDraw) > 0.2 else { return false }
            lastDraw = Date()
            return true
        }
        guard due else { return }
        var line = "\r\(p.framesDone)"
        if let total = p.framesTotal, total > 0 {
            let fraction = min(1, Double(p.framesDone) / Double(total))
            let width = 24, filled = Int(fraction * Double(width))
            line += "/\(total) frames [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(Int(fraction * 100))%"
            if p.framesPerSecond > 0 {
                let eta = Int(Double(max(0, total - p.framesDone)) / p.framesPerSecond)
                line += String(format: "  ETA %d:%02d", eta / 60, eta % 60)
            }
        } else {
            line += " frames"
        }
        line += String(format: "  %.1f fps ", p.framesPerSecond)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Stylize a video clip, keeping its sound, timing, rotation and metadata.",
        discussion: """
        The output's container and codec follow its extension as with ffmpeg (H.264 in .mp4/.mov/.mkv, VP9 in .webm); \
        audio and subtitles are copied. "-" as input or output streams through stdin/stdout (name the container with --format).
        """
    )

    @Argument(help: "The clip (any container and codec FFmpeg reads), or - for standard input.")
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the result, or - for standard output.")
    var output: String

    @OptionGroup var processing: ProcessingOptions

    @Option(parsing: .unconditional, help: "Start of the part to stylize: seconds (2.5) or HH:MM:SS.mmm.")
    var start: String?

    @Option(parsing: .unconditional, help: "Length of the part to stylize: seconds or HH:MM:SS.mmm.")
    var duration: String?

    @Option(parsing: .unconditional, help: "End of the part to stylize (instead of --duration): seconds or HH:MM:SS.mmm.")
    var to: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Frame rate of the output (24, 29.97, 30000/1001): frames are repeated or dropped as ffmpeg's fps filter does, before stylization (default: the input's timing).", valueName: "rate"))
    var fps: String?

    @Option(help: ArgumentHelp("Size of the output's frames, WIDTHxHEIGHT, with -1 for a side that follows the shape (1280x720, 640x-1); the network paints at this size unless --size says otherwise (default: the input's).", valueName: "WxH"))
    var scale: String?

    @Flag(help: "Leave the audio out.")
    var noAudio = false

    @Option(help: ArgumentHelp("Re-encode the audio with this encoder: aac, libopus, libmp3lame, flac, ... (default: copied where the container takes it).", valueName: "name"))
    var audioCodec: String?

    @Option(help: ArgumentHelp("Re-encode the audio at this bit rate (128k, 96000), with --audio-codec or the container's default audio codec.", valueName: "rate"))
    var audioBitrate: String?

    @Option(help: ArgumentHelp("Stylize exactly frames A to B-1 (from 0, in presentation order) into a piece for 'stylize join': video only, on the source's timeline. For splitting a long clip across processes or machines (integrations/dask does it).", valueName: "A..B"))
    var frames: String?

    @Option(help: ArgumentHelp("With --frames: frames before A that run through the stabilizer, not written, so that the piece joins seamlessly (default: enough for the stabilizer's memory to fade below 1/1000).", valueName: "n"))
    var warmup: Int?

    @Option(help: ArgumentHelp("With --frames: the clip's frame layout from 'stylize probe --timestamps', so that the piece finds its frames without scanning the file up to them.", valueName: "file.json"))
    var layout: String?

    @Option(help: ArgumentHelp("The clip's own style vector for --strength below 1, computed once ('stylize vector CLIP --clip -o FILE.json') so that every piece blends towards the same one.", valueName: "file.json"))
    var identity: String?

    @OptionGroup var regions: RegionOptions

    @OptionGroup var encoding: EncodingOptions

    @Option(help: "Output container by FFmpeg name (mp4, matroska, nut, ...): needed with -o -.")
    var format: String?

    @Option(help: "Input container by FFmpeg name, for pipes that cannot be probed.")
    var inputFormat: String?

    @OptionGroup var models: ModelOptions

    func validate() throws {
        if let start { _ = try parseSeconds(start) }
        if let duration { guard try parseSeconds(duration) > 0 else { throw ValidationError("--duration must be positive") } }
        if let to {
            guard duration == nil else { throw ValidationError("give --to or --duration, not both") }
            guard try parseSeconds(to) > (try start.map(parseSeconds) ?? 0) else { throw ValidationError("--to must come after --start") }
        }
        if let fps { _ = try parseFrameRate(fps) }
        if let scale { _ = try FrameSize(parsing: scale) }
        if let audioBitrate { _ = try parseBitRate(audioBitrate) }
        if noAudio && (audioCodec != nil || audioBitrate != nil) { throw ValidationError("--no-audio goes without --audio-codec and --audio-bitrate") }
        if output == "-" && format == nil { throw ValidationError("writing to standard output needs --format (e.g. nut or matroska)") }
        if output == "-" && processing.json { throw ValidationError("--json cannot go with -o -: standard output carries the video") }
        if input != "-" && output != "-" { try validateDistinct(input: input, output: output) }
        if let frames {
            guard parseFrameRange(frames) != nil else { throw ValidationError("--frames takes A..B with 0 <= A < B, e.g. 0..250") }
            guard start == nil, duration == nil else { throw ValidationError("--frames goes without --start and --duration") }
            guard input != "-", output != "-" else { throw ValidationError("--frames reads and writes files, not pipes") }
            guard processing.filmstrip == nil else { throw ValidationError("--filmstrip goes with whole clips, not --frames") }
        }
        if layout != nil && frames == nil { throw ValidationError("--layout goes with --frames") }
        if let warmup { guard warmup >= 0, frames != nil else { throw ValidationError("--warmup takes a count of frames and goes with --frames") } }
    }

    func run() throws {
        let stop = StopRequest()
        try reportingErrors {
            var options = JobOptions()
            options.start = try start.map(parseSeconds)
            options.duration = try duration.map(parseSeconds) ?? to.map { try parseSeconds($0) - (options.start ?? 0) }
            options.frameRate = try fps.map(parseFrameRate)
            options.outputSize = try scale.map(FrameSize.init(parsing:))
            options.audio = AudioOptions(drop: noAudio, codec: audioCodec, bitRate: try audioBitrate.map(parseBitRate))
            encoding.apply(to: &options)
            options.outputFormat = format
            options.inputFormat = inputFormat
            options.frames = frames.flatMap(parseFrameRange)
            options.warmup = frames != nil ? warmup : nil
            options.layout = try layout.map(readLayout)
            options.identity = try identity.map { try StyleVectorFile.read(URL(fileURLWithPath: $0)) }
            let location = { (path: String) in path == "-" ? ClipLocation.standardStream : .file(URL(fileURLWithPath: path)) }
            var job = try processing.job(.clip(location(input)), output: location(output), options: options)
            job.identityFile = identity
            job.regions = try regions.regions(reading: processing.styleReading)
            if frames != nil { job.options.pieceSignature = job.pieceSignature }
            if input != "-" && !FileManager.default.fileExists(atPath: input) { throw StylizeError.fileNotFound(input) }
            if output != "-" && !job.options.overwrite && FileManager.default.fileExists(atPath: output) { throw StylizeError.outputExists(output) }
            try processing.run(job, with: try models.load(), stop: stop, showProgress: output != "-")
        }
    }

    /// A frame layout from `stylize probe --timestamps`.
    func readLayout(_ path: String) throws -> ClipLayout {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw StylizeError.fileNotFound(path) }
        do { return try JSONDecoder().decode(ClipLayout.self, from: data) } catch {
            throw StylizeError.invalidArgument("\(path) is not a frame layout from stylize probe --timestamps")
        }
    }
}

extension ProcessingOptions {
    /// Runs a video or frames job with a progress line, Ctrl-C handling (exit 128 + the
    /// signal) and the `--json` summary.
    /// - Parameter keptWhenStopped: what a stopped job leaves, given the frames it finished
    ///   (a folder output keeps them); nil: nothing, as StylizeKit's message says.
    func run(_ job: StylizeJob, with stylizer: Stylizer, stop: StopRequest, showProgress: Bool,
             keptWhenStopped: ((Int) -> String)? = nil) throws {
        let timeline = try job.timeline(with: stylizer)
        let bar = ProgressLine(quiet: quiet || !showProgress)
        let finished = Locked(0)
        let summary: JobSummary
        do {
            summary = try job.run(with: stylizer, timeline: timeline, progress: { progress in
                finished.withLock { $0 = progress.framesDone }
                bar.draw(progress)
            }, isCancelled: { stop.requested != nil })
        } catch is CancellationError {
            bar.finish()
            let message = keptWhenStopped.map { $0(finished.withLock { $0 }) } ?? "stopped before the end; no output was written"
            FileHandle.standardError.write(Data("stylize: \(message)\n".utf8))
            throw ExitCode(128 + (stop.requested ?? SIGINT))
        }
        bar.finish()
        for warning in summary.warnings { FileHandle.standardError.write(Data("stylize: warning: \(warning)\n".utf8)) }
        if !quiet {
            let place = summary.output == "-" ? "standard output" : summary.output
            FileHandle.standardError.write(Data(String(format: "stylize: wrote %@: %d frames in %.1f s (%.1f fps)\n",
                                                       place, summary.frames, summary.seconds, summary.framesPerSecond).utf8))
        }
        if json { try printJSON(JobReport(summary, style: job.styleDescription, precision: precision, stylizer: stylizer)) }
    }
}

/// The `--json` summary of a video or frames job.
struct JobReport: Encodable {
    var input: String, output: String, frames: Int, seconds: Double, fps: Double
    var width: Int, height: Int, codec: String, streams: [String], style: String, precision: String
    /// Why `auto` became `precision` on this CPU; nil when a precision was asked for.
    var precisionReason: String?
    var damaged: Int, warnings: [String], peakMemoryMiB: Double
    /// A live job's frames in, out and dropped, and its latency.
    var live: LiveStatistics?
    /// The process's CPU seconds while the job ran, and the stabilizer's part of them (clips).
    var cpuSeconds: Double?, stabilizerCPUSeconds: Double?

    init(_ s: JobSummary, style: String, precision: Precision, stylizer: Stylizer) {
        (input, output, frames, seconds, fps) = (s.input, s.output, s.frames, s.seconds, s.framesPerSecond)
        (width, height, codec, streams) = (s.width, s.height, s.videoCodec, s.streams)
        (damaged, warnings, peakMemoryMiB, live) = (s.damaged, s.warnings, s.peakMemoryMiB, s.live)
        (cpuSeconds, stabilizerCPUSeconds) = (s.cpuSeconds, s.stabilizerCPUSeconds)
        self.style = style
        self.precision = stylizer.transformer.resolve(precision).rawValue
        precisionReason = precision == .auto ? stylizer.transformer.precisionChoice().reason : nil
    }
}

/// A frame rate: a number (29.97) or a fraction (30000/1001).
func parseFrameRate(_ text: String) throws -> Double {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Double($0) }
    let rate: Double? = parts.count == 1 ? parts[0] : parts.count == 2 ? parts[0].flatMap { n in parts[1].map { n / $0 } } : nil
    guard let rate, rate.isFinite, rate > 0, rate <= 1000 else {
        throw ValidationError("bad frame rate \"\(text)\": use a number of frames per second (25, 29.97) or a fraction (30000/1001)")
    }
    return rate
}

/// A bit rate: bits per second, or with k or M (128k, 1.5M).
func parseBitRate(_ text: String) throws -> Int {
    let scale: Double = text.hasSuffix("k") || text.hasSuffix("K") ? 1000 : text.hasSuffix("M") ? 1_000_000 : 1
    guard let value = Double(scale == 1 ? text : String(text.dropLast())), value.isFinite,
          (1000...10_000_000).contains(value * scale) else {
        throw ValidationError("bad bit rate \"\(text)\": use bits per second from 1000 to 10000000, or with k or M (128k)")
    }
    return Int(value * scale)
}
