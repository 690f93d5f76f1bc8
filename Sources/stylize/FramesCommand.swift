import ArgumentParser
import Foundation
import StylizeKit

extension Picture.OutputFormat: ExpressibleByArgument {
    public init?(argument: String) {
        guard let format = Picture.OutputFormat.extensions[argument.lowercased()] else { return nil }
        self = format
    }
}

struct FramesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frames",
        abstract: "Stylize an image sequence: a folder of frames, a glob or a printf pattern.",
        discussion: """
        IN is a folder (its pictures in natural order: frame2 before frame10), a glob ('cam/*.jpg') or a printf \
        pattern (cam_%05d.jpg). OUT is a folder (the same file names and formats, unless --format) or a video file \
        (.mp4, .mkv, .webm, ...) assembled at --fps. With --watch, frames a camera is still writing are taken as they \
        appear (each once it has stopped changing), until Ctrl-C or --idle-exit.
        """
    )

    @Argument(help: "The frames: a folder, a glob or a printf pattern.")
    var input: String

    @Option(name: .shortAndLong, help: "A folder for the stylized frames, or a video file.")
    var output: String

    @OptionGroup var processing: ProcessingOptions

    @Option(help: "Frame rate of a video output.")
    var fps: Double = 30

    @Option(help: "Picture format of a folder output: png, jpg, bmp, ppm, pgm, tiff or webp (default: each frame's own).")
    var format: Picture.OutputFormat?

    @Flag(help: "Keep taking new frames as they appear in the input folder, until Ctrl-C or --idle-exit.")
    var watch = false

    @Option(help: "With --watch: stop after this many seconds without a new frame.")
    var idleExit: Double?

    @Flag(help: "For a folder output: leave the frames whose output exists (from a stopped run) and stylize the others.")
    var resume = false

    @OptionGroup var regions: RegionOptions

    @OptionGroup var encoding: EncodingOptions

    @OptionGroup var models: ModelOptions

    func validate() throws {
        guard fps > 0 else { throw ValidationError("--fps must be positive") }
        guard input != "-", output != "-" else { throw ValidationError("frames reads and writes files; use stylize video for pipes") }
        if watch && processing.filmstrip != nil { throw ValidationError("--filmstrip needs the frames in advance, which --watch does not give") }
        if let idleExit, !(idleExit > 0) { throw ValidationError("--idle-exit must be positive") }
        if idleExit != nil && !watch { throw ValidationError("--idle-exit goes with --watch") }
        if resume && encoding.isVideo(output) { throw ValidationError("--resume goes with a folder output; a video is written whole") }
        if resume && processing.overwrite { throw ValidationError("give --resume or --overwrite, not both") }
        if resume && processing.filmstrip != nil { throw ValidationError("--filmstrip needs every frame stylized in one run; it does not go with --resume") }
    }

    func run() throws {
        let stop = StopRequest()
        try reportingErrors {
            var options = JobOptions()
            encoding.apply(to: &options)
            var job = try processing.job(.frames(URL(fileURLWithPath: input)), output: .file(URL(fileURLWithPath: output)), options: options)
            job.sequence.frameRate = fps
            job.sequence.pictureFormat = format
            job.sequence.watch = watch
            job.sequence.idleExit = idleExit
            job.sequence.resume = resume
            job.regions = try regions.regions(reading: processing.styleReading)
            _ = try FrameSequence(input)
            let stylizer = try models.load()
            let writesVideo = encoding.isVideo(output)
            if writesVideo && !job.options.overwrite && FileManager.default.fileExists(atPath: output) {
                throw StylizeError.outputExists(output)
            }
            // A folder keeps the frames finished before a stop (each is written whole).
            let kept = writesVideo ? nil : { (frames: Int) in
                "stopped before the end; the \(frames) frames \(resume ? "finished in this run are in" : "finished are in") \(output)"
                    + " (the same command with --resume goes on from there)"
            }
            try processing.run(job, with: stylizer, stop: stop, showProgress: true, keptWhenStopped: kept)
        }
    }
}
