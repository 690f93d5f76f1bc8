import ArgumentParser
import Foundation
import StylizeKit
#if Studio
import StylizeStudio
#endif

struct LiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Stylize a camera, a screen or a stream as it comes, until Ctrl-C.",
        discussion: """
        The newest frame wins: frames that arrive while one is being stylized are dropped, never queued. \
        While it runs, standard input takes commands, one a line: "style STYLE" and "strength S" change the look, \
        crossfading over --crossfade seconds. Ctrl-C (or the source's end) finishes the output; --json then prints \
        frames in, out and dropped, and the latency from a frame's arrival to its output. \
        Without -o, the source is shown on the studio's page instead (its Live panel, Watch source), \
        at the address printed, in the look set on the page.
        """
    )

    @Argument(help: ArgumentHelp("A device (/dev/video0), a stream URL (udp://127.0.0.1:5000, srt://, rtsp://), a lavfi graph with --input-format lavfi (testsrc2=size=640x360:rate=30), or a file (played at its own pace).", valueName: "input"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where the stylized frames go: a stream URL (udp://127.0.0.1:5001, srt://, rtmp://; MPEG-TS unless --format says otherwise), a v4l2 device (a v4l2loopback virtual camera), a file (a recording), or - with --format. Without it, the source is shown on the studio's page (its Live panel), at the address printed.", valueName: "output"))
    var output: String?

    @Option(help: "Without -o: the port of the studio's page (0 picks a free one). It listens on 127.0.0.1 and opens the current folder, where recordings are kept.")
    var port = 8080

    @Option(name: .shortAndLong, help: "The style: a gallery name (stylize styles lists them), a picture, a .json vector file, or a mix a.jpg:0.7,b.json:0.3.")
    var style: String

    @OptionGroup var look: LookOptions

    @Option(help: precisionHelp)
    var precision: Precision = .auto

    @Option(parsing: .unconditional, help: "Temporal stabilization from 0 to 1 (one pass: each frame is steadied towards the frame written before it).")
    var stabilize = 0.7

    @Flag(help: "Stylize every frame on its own (the same as --stabilize 0).")
    var noStabilize = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Stop after this many seconds of the source (default: run until Ctrl-C or the source's end).", valueName: "seconds"))
    var duration: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a style or strength change takes to fade in.", valueName: "seconds"))
    var crossfade = 0.5

    @Option(help: ArgumentHelp("Input format by FFmpeg name: v4l2 (the default for /dev/video*), x11grab, lavfi, mpegts, ...", valueName: "name"))
    var inputFormat: String?

    @Option(help: ArgumentHelp("Frame size to ask the device for.", valueName: "WxH"))
    var inputSize: String?

    @Option(help: ArgumentHelp("Frame rate to ask the device for.", valueName: "rate"))
    var inputFps: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for the input to open, and then for each next packet, before giving up (0: wait for ever once open).", valueName: "seconds"))
    var inputTimeout = 4.0

    @Option(help: ArgumentHelp("An option of the input format, as ffmpeg takes it before -i (pixel_format=yuyv422). Repeat it.", valueName: "key=value"))
    var inputOption: [String] = []

    @OptionGroup var regions: RegionOptions

    @OptionGroup var encoding: EncodingOptions

    @Option(help: ArgumentHelp("Output container by FFmpeg name (mpegts, flv, matroska, nut, v4l2, ...).", valueName: "name"))
    var format: String?

    @OptionGroup var outputHandling: OutputHandling

    @Flag(help: "No progress line, and no commands read from standard input.")
    var quiet = false

    @OptionGroup var models: ModelOptions

    func validate() throws {
        guard (0...1).contains(stabilize) else { throw ValidationError("--stabilize must be between 0 and 1") }
        if let duration { guard try parseSeconds(duration) > 0 else { throw ValidationError("--duration must be positive") } }
        guard crossfade >= 0, crossfade.isFinite else { throw ValidationError("--crossfade must be 0 or more seconds") }
        if let inputFps { _ = try parseFrameRate(inputFps) }
        for option in inputOption where !option.contains("=") { throw ValidationError("--input-option takes key=value, got \(option)") }
        if output == "-" && format == nil { throw ValidationError("writing to standard output needs --format (e.g. mpegts or nut)") }
        if output == "-" && outputHandling.json { throw ValidationError("--json cannot go with -o -: standard output carries the video") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, got \(port)") }
        if output == nil {
            if format != nil || outputHandling.json || duration != nil || regions.mask != nil {
                throw ValidationError("--format, --json, --duration and --mask go with an output (-o); without one the source is shown on the studio's page")
            }
        }
    }

    /// The source these flags describe.
    func source() -> LiveInput {
        var source = LiveInput(input, format: inputFormat, size: inputSize, frameRate: inputFps)
        source.timeout = inputTimeout
        for option in inputOption {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            source.options[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return source
    }

    /// The job these flags describe, writing to `output`.
    func job(writingTo output: String) throws -> StylizeJob {
        let destination: ClipLocation = output == "-" ? .standardStream
            : output.contains("://") || output.hasPrefix("/dev/video") ? .stream(output) : .file(URL(fileURLWithPath: output))
        var job = StylizeJob(source: .live(source()), output: destination,
                             style: .single(try look.styleReading.parse(style), strength: look.strength ?? 1))
        job.styleSize = look.styleReading.styleSize
        job.options.processingSize = look.size
        job.options.preserveColors = look.preserveColors
        job.options.precision = precision
        job.options.stabilization = noStabilize ? 0 : stabilize
        job.options.duration = try duration.map(parseSeconds)
        job.options.outputFormat = format
        job.options.overwrite = outputHandling.overwrite
        job.regions = try regions.regions(reading: look.styleReading)
        encoding.apply(to: &job.options)
        return job
    }

    func run() throws {
        guard let output else { return try reportingErrors { try showInStudio() } }
        let stop = StopRequest()
        try reportingErrors {
            var job = try job(writingTo: output)
            try job.validate()
            if case .file = job.output, !job.options.overwrite, FileManager.default.fileExists(atPath: output) { throw StylizeError.outputExists(output) }
            let stylizer = try models.load()
            // The style vector is computed once: for the control and for the run.
            let timeline = try job.timeline(with: stylizer)
            let (first, strength) = timeline.value(at: 0, frameRate: 30)
            let control = try LiveStyle(first, strength: strength, crossfade: crossfade)
            job.liveStyle = control
            if !quiet && input != "-" { readCommands(into: control, stylizer: stylizer, styleSize: job.styleSize) }
            let bar = ProgressLine(quiet: quiet || output == "-")
            let summary = try job.run(with: stylizer, timeline: timeline, progress: { bar.draw($0) }, isCancelled: { stop.requested != nil })
            bar.finish()
            report(summary, job: job, stylizer: stylizer)
        }
    }

    /// Serves the studio's page with this source in its Live panel, until Ctrl-C. The source is
    /// opened once first, so that one that does not open fails here, in one line.
    private func showInStudio() throws {
        #if Studio
        _ = try look.styleReading.parse(style)
        let source = source()
        try LiveFrames(source).stop()
        var configuration = StudioConfiguration(root: URL(fileURLWithPath: "."))
        configuration.port = port
        configuration.modelsDirectory = models.directory.map { URL(fileURLWithPath: $0) }
        configuration.liveSource = source
        configuration.liveStyle = style
        try StudioCommand.serve(configuration, announcing: "stylize live: \(input) on the studio's page")
        #else
        throw StylizeError.invalidArgument("without an output the source is shown on the studio's page, which this build leaves out; name an output with -o")
        #endif
    }

    private func report(_ summary: JobSummary, job: StylizeJob, stylizer: Stylizer) {
        for warning in summary.warnings { FileHandle.standardError.write(Data("stylize: note: \(warning)\n".utf8)) }
        if !quiet, let live = summary.live {
            let place = summary.output == "-" ? "standard output" : summary.output
            FileHandle.standardError.write(Data(String(format: "stylize: wrote %@: %d frames in %.1f s (%.1f fps), %d of %d dropped, latency p50 %.1f ms, p99 %.1f ms\n",
                                                       place, live.framesOut, summary.seconds, summary.framesPerSecond, live.dropped,
                                                       live.framesIn, live.latencyMilliseconds.p50, live.latencyMilliseconds.p99).utf8))
        }
        if outputHandling.json {
            try? printJSON(JobReport(summary, style: job.styleDescription, precision: precision, stylizer: stylizer))
        }
    }

    /// Reads "style STYLE" and "strength S" lines from standard input on a thread of its own,
    /// changing `control`; a line that cannot be taken gets one line on stderr.
    private func readCommands(into control: LiveStyle, stylizer: Stylizer, styleSize: Int) {
        Thread.detachNewThread {
            while let line = readLine() {
                let words = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard let command = words.first else { continue }
                do {
                    switch (command, words.count) {
                    case ("style", 2):
                        try control.change(to: stylizer.styleVector(for: StyleSpec(parsing: words[1]), styleSize: styleSize))
                    case ("strength", 2):
                        guard let strength = Double(words[1]) else { throw StylizeError.invalidArgument("strength takes a number from 0 to 1") }
                        try control.change(strength: strength)
                    default:
                        throw StylizeError.invalidArgument("commands are \"style STYLE\" and \"strength S\", got \"\(line)\"")
                    }
                    FileHandle.standardError.write(Data("stylize: now \(line)\n".utf8))
                } catch let error as StylizeError {
                    FileHandle.standardError.write(Data("stylize: \(stylize.message(for: error))\n".utf8))
                } catch {
                    FileHandle.standardError.write(Data("stylize: \(error.localizedDescription)\n".utf8))
                }
            }
        }
    }
}
