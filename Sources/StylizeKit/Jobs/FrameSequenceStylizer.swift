import CFFmpeg
import Foundation

/// Options of a frame-sequence job on top of the video ones.
public struct FrameSequenceOptions: Sendable {
    /// Processing, encoding and output options shared with video jobs.
    public var video = JobOptions()
    /// Frame rate of a video assembled from the frames.
    public var frameRate: Double = 30
    /// Format of the pictures written to an output folder; nil keeps each input's own format.
    public var pictureFormat: Picture.OutputFormat?
    /// Keep taking frames as they appear in the input folder, until stopped.
    public var watch = false
    /// With `watch`: stop after this many seconds without a new frame.
    public var idleExit: Double?
    /// For a folder output: frames whose output picture exists already are left as they are
    /// and the job goes on with the others, as after an interruption (a stopped folder job
    /// keeps every frame it finished). The stabilizer's state is rebuilt from the frames before
    /// each one taken up again (`JobOptions.defaultWarmup`), which are stylized, not written.
    public var resume = false

    /// The defaults: every frame there now, in one run, stabilized, each written in its own
    /// format (a clip assembled at 30 frames a second).
    public init() {}
}

/// Stylizes an image sequence (for example what a webcam dumps into a folder) into a folder of
/// pictures with the same names, or into a video assembled at a fixed frame rate.
public final class FrameSequenceStylizer: FileStylizer {
    /// The models the job runs.
    public let stylizer: Stylizer
    /// How the job runs.
    public let options: FrameSequenceOptions
    /// Where the style goes, when a mask decides it (`StylizeJob.regions`).
    let regions: RegionSetup?

    /// A job over `stylizer`'s models with `options`; nothing runs until `stylize` or `run` is called.
    public convenience init(stylizer: Stylizer, options: FrameSequenceOptions = .init()) {
        self.init(stylizer: stylizer, options: options, regions: nil)
    }

    init(stylizer: Stylizer, options: FrameSequenceOptions, regions: RegionSetup?) {
        self.stylizer = stylizer
        self.options = options
        self.regions = regions
    }

    /// Container extensions that make the output a video rather than a folder.
    public static let videoExtensions: Set<String> = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "nut", "ts", "mpg", "mpeg", "flv"]

    /// Whether `output` names a video (by extension, or because a container was named).
    public func writesVideo(_ output: URL) -> Bool {
        options.video.outputFormat != nil || Self.videoExtensions.contains(output.pathExtension.lowercased())
    }

    /// The same on the calling thread: each frame with the style the timeline gives at its
    /// time, index / `frameRate` (so `#N` keyframes are frame N of the sequence). `isCancelled`
    /// is asked before each frame (and while watching); true stops the job with
    /// `CancellationError`, or ends a watch.
    public func run(input: URL, output: URL, timeline: StyleTimeline,
                    progress: (@Sendable (JobProgress) -> Void)? = nil,
                    isCancelled: (@Sendable () -> Bool)? = nil) throws -> JobSummary {
        try run(input: input.displayPath, output: output.displayPath, timeline: timeline, progress: progress, isCancelled: isCancelled)
    }

    func run(input: String, output: String, timeline: StyleTimeline, progress: (@Sendable (JobProgress) -> Void)?,
             isCancelled: (@Sendable () -> Bool)?) throws -> JobSummary {
        try options.video.validate()
        if options.video.filmstrip != nil && (options.watch || options.resume) {
            throw StylizeError.invalidArgument("a filmstrip needs every frame stylized in one run, which watching and resuming do not give")
        }
        guard options.frameRate > 0, options.frameRate.isFinite else { throw StylizeError.invalidArgument("the frame rate must be positive") }
        let sequence = try FrameSequence(input)
        let masks = try regions.flatMap { try MaskReader($0.regions.mask) }
        let started = Date()
        // Watching ends when the caller asks to stop.
        let stop = { isCancelled?() ?? false }
        let feed = FrameFeed(sequence, watch: options.watch, idleExit: options.idleExit)
        var pending: [SequenceFrame] = []
        if !options.watch {
            pending = try sequence.files().map { SequenceFrame(url: $0, picture: nil) }
            guard !pending.isEmpty else { throw StylizeError.unreadable(path: input, reason: "no frames found") }
        }
        let identity = timeline.needsIdentity || regions?.outside?.needsIdentity == true ? try identity(of: &pending, feed: feed, stop: stop) : nil
        // Workers as for a clip of the first frame's size (two up to 1280x720), which most
        // often is every frame's; one when watching, so that each new frame has every core.
        var workerCount = options.video.workers ?? 1
        if options.video.workers == nil, !options.watch, let first = try? pending[0].load() {
            pending[0].picture = first
            workerCount = JobOptions.defaultWorkers(width: first.width, height: first.height)
        }
        let schedule = { (timeline: StyleTimeline) in
            ConditioningSchedule(transformer: self.stylizer.transformer, timeline: timeline, frameRate: self.options.frameRate, identity: identity)
        }
        let styles = schedule(timeline)
        // Masks go by the frame's index (a mask clip by its time at the sequence's rate).
        let regionSchedule = regions.map { RegionSchedule(masks: masks, outside: $0.outside.map(schedule)) }
        let filmstrip = options.video.filmstrip.map { Filmstrip(url: $0, count: options.video.filmstripFrames, total: pending.count) }
        let read = SequenceReadStage(listed: pending, feed: options.watch ? feed : nil, shouldStop: stop, frameRate: options.frameRate,
                                     styles: styles, regions: regionSchedule)
        // Resuming, the frames whose output exists are not counted: the total is what is left.
        let left = options.resume && !writesVideo(URL(fileURLWithPath: output))
            ? pending.filter { !FileManager.default.fileExists(atPath: Self.destination(of: $0.url, in: URL(fileURLWithPath: output), format: options.pictureFormat).path) }.count
            : pending.count
        let counter = FrameCounter(total: options.watch ? nil : left, progress: progress)
        let report: () throws -> Void = {
            // Watching ends on a stop request (the feed sees it); a finite sequence is cancelled.
            if !self.options.watch, isCancelled?() == true { throw CancellationError() }
        }
        let (width, height, codec, notes, warnings): (Int, Int, String, [String], [String])
        if writesVideo(URL(fileURLWithPath: output)) {
            (width, height, codec, notes, warnings) = try runToVideo(output, workers: workerCount, read: read, filmstrip: filmstrip,
                                                                     report: report, counter: counter)
        } else {
            (width, height, codec, notes, warnings) = try runToFolder(input: sequence, output, workers: workerCount, read: read, filmstrip: filmstrip,
                                                             report: report, counter: counter)
        }
        try filmstrip?.write(overwrite: options.video.overwrite)
        let seconds = Date().timeIntervalSince(started)
        var summary = JobSummary(input: input, output: output, frames: counter.value, seconds: seconds,
                                   framesPerSecond: Double(counter.value) / max(seconds, 1e-9), width: width, height: height,
                                   videoCodec: codec, streams: notes)
        summary.damaged = warnings.count
        summary.warnings = warnings + (regionSchedule?.notes ?? [])
        return summary
    }

    /// The sequence's own style vector, once: from frames spread over it (the first one when
    /// watching, as later ones do not exist yet; it becomes the first of `pending`).
    private func identity(of pending: inout [SequenceFrame], feed: FrameFeed, stop: () -> Bool) throws -> StyleVector {
        let sample: [SequenceFrame]
        if options.watch {
            guard let first = try feed.next(shouldStop: stop) else { throw CancellationError() }
            pending = [first]
            sample = [first]
        } else {
            let n = min(max(1, options.video.identitySamples), pending.count)
            sample = (0..<n).map { pending[(2 * $0 + 1) * pending.count / (2 * n)] }
        }
        return try StyleVector.mix(sample.map { (try stylizer.styleVector(for: $0.load()), 1.0) })
    }

    private func workers(_ count: Int) throws -> [TransformerWorker] {
        try (0..<count).map { _ in
            try stylizer.makeWorker(precision: options.video.precision, threads: JobOptions.threads(forWorkers: count))
        }
    }

    private func runToFolder(input: FrameSequence, _ output: String, workers count: Int, read: SequenceReadStage, filmstrip: Filmstrip?,
                             report: @escaping () throws -> Void, counter: FrameCounter) throws -> (Int, Int, String, [String], [String]) {
        let folder = try prepareFolder(output, input: input)
        let format = options.pictureFormat
        let destination = { @Sendable (source: URL) -> URL in Self.destination(of: source, in: folder, format: format) }
        let size = Locked((0, 0))
        let stabilize = StabilizeStage(strength: options.video.stabilization, convert: nil, stylizedOutside: regions?.outside != nil)
        let stabilizes = stabilize.stabilizer != nil
        var skipped: [String] = []
        let finish = { @Sendable (index: Int, stylized: RGBImage, target: URL) throws in
            try filmstrip?.offer(index, stylized)
            try Picture(stylized).write(to: target, overwrite: self.options.video.overwrite)
        }
        let warmup = options.resume && stabilizes ? JobOptions.defaultWarmup(stabilization: options.video.stabilization) : 0
        // With stabilization, frames are finished in order in the writing stage; without it,
        // each worker writes its own.
        let pipeline = OrderedPipeline<TransformerWorker, SequenceJob, SequenceResult>(
            workers: try workers(count), framesInFlight: options.video.framesInFlight,
            process: { worker, job in
                let target = destination(job.frame.url)
                guard let picture = try Self.load(job.frame) else { return .skipped(job.frame.url.path) }
                size.withLock { $0 = (picture.width, picture.height) }
                if stabilizes {
                    return .pending(index: job.index, try self.painted(picture, job, worker: worker), target: job.warmup ? nil : target)
                }
                try finish(job.index, try self.paint(picture, job, worker: worker).rgbImage, target)
                return .done
            },
            write: { result in
                switch result {
                case .pending(let index, let painted, let target):
                    let steady = try stabilize.picture(painted)
                    guard let target else { return }  // a warm-up frame: its output exists
                    try finish(index, steady, target)
                case .skipped(let path):
                    skipped.append(path)
                    return
                case .done:
                    break
                }
                counter.increment()
            })
        try pipeline.run {
            try report()
            return try read.next(into: destination, overwrite: self.options.video.overwrite, resume: self.options.resume, warmup: warmup).map { .work($0) }
        }
        guard counter.value > 0 || options.resume else { throw StylizeError.unreadable(path: "\(input)", reason: "no frame could be read") }
        let (width, height) = size.withLock { $0 }
        return (width, height, format?.rawValue ?? "same as input",
                stabilize.stabilizer.map { [Self.note($0, self.options.video.stabilization)] } ?? [], skipped.map { "skipped \($0): not a readable picture" })
    }

    /// The output folder, made if it does not exist; refused when it is a file, or the input
    /// folder where results would replace frames or be taken for new ones.
    private func prepareFolder(_ output: String, input: FrameSequence) throws -> URL {
        let folder = URL(fileURLWithPath: output)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StylizeError.unwritable(path: output, reason: "not a folder (name a folder, or a video file such as out.mp4)") }
        } else {
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw StylizeError.unwritable(path: output, reason: error.localizedDescription)
            }
        }
        if let inputFolder = input.folder, inputFolder.standardizedFileURL.resolvingSymlinksInPath() == folder.standardizedFileURL.resolvingSymlinksInPath() {
            if options.pictureFormat == nil {
                throw StylizeError.invalidArgument("the output folder is the input folder: the frames would be replaced; choose another folder or picture format")
            }
            if options.watch {
                throw StylizeError.invalidArgument("when watching, the output folder cannot be the input folder: every result would be taken for a new frame")
            }
        }
        return folder
    }

    private func runToVideo(_ output: String, workers count: Int, read: SequenceReadStage, filmstrip: Filmstrip?,
                            report: @escaping () throws -> Void, counter: FrameCounter) throws -> (Int, Int, String, [String], [String]) {
        // The first frame fixes the video's size; later frames of another size are scaled to it.
        guard var firstJob = try read.next() else { throw StylizeError.unreadable(path: output, reason: "no frames found") }
        let first = try firstJob.frame.load()
        firstJob.frame.picture = first
        read.handBack(firstJob)
        let rate = av_d2q(options.frameRate, 1_000_000)
        let colors = VideoColors(matrix: AVCOL_SPC_UNSPECIFIED, range: AVCOL_RANGE_MPEG, primaries: AVCOL_PRI_BT709,
                                 transfer: AVCOL_TRC_IEC61966_2_1, height: first.height)
        let writer = try VideoWriter(destination: output,
                                     video: .init(width: first.width, height: first.height, frameRate: rate, colors: colors, sourceCodec: "pictures"),
                                     reader: nil, options: options.video)
        let convert = ConvertStage(writer: writer, filmstrip: filmstrip)
        let stabilize = StabilizeStage(strength: options.video.stabilization, convert: convert, stylizedOutside: regions?.outside != nil)
        let stabilizes = stabilize.stabilizer != nil
        var skipped: [String] = []
        // Pictures carry no sample aspect of their own (0/1: unknown).
        let unknownAspect = AVRational(num: 0, den: 1)
        let pipeline = OrderedPipeline<(TransformerWorker, FrameConverter), SequenceJob, StylizedItem>(
            workers: try workers(count).map { ($0, FrameConverter()) }, framesInFlight: options.video.framesInFlight,
            process: { worker, job in
                guard let picture = try Self.load(job.frame) else { return .skipped(job.frame.url.path) }
                if stabilizes { return .image(try self.painted(picture, job, worker: worker.0), pts: Int64(job.index), aspect: unknownAspect) }
                return .frame(try convert.frame(from: self.paint(picture, job, worker: worker.0).rgbImage, pts: Int64(job.index), aspect: unknownAspect,
                                                index: job.index, converter: worker.1))
            },
            write: { item in
                if case .skipped(let path) = item {
                    skipped.append(path)
                    return
                }
                // Frames are numbered by their place in the sequence (skipped ones counted), as
                // their timestamps are.
                var place = counter.value
                if case .image(_, let pts, _) = item { place = Int(pts) }
                guard let frame = try stabilize.frame(for: item, index: place) else { return }
                try writer.write(frame)
                counter.increment()
            })
        do {
            try pipeline.run {
                try report()
                return try read.next().map { .work($0) }
            }
            try writer.finish()
        } catch {
            writer.muxer.abandon()
            throw error
        }
        return (writer.width, writer.height, writer.codecName,
                writer.notes + (stabilize.stabilizer.map { [Self.note($0, self.options.video.stabilization)] } ?? []), skipped.map { "skipped \($0): not a readable picture" })
    }

    /// Where the stylized picture of `source` goes in an output folder: the same name, with the
    /// extension of `format` when one is asked for.
    static func destination(of source: URL, in folder: URL, format: Picture.OutputFormat?) -> URL {
        let name = format.map { source.deletingPathExtension().lastPathComponent + "." + ($0 == .jpeg ? "jpg" : $0.rawValue) }
        return folder.appendingPathComponent(name ?? source.lastPathComponent)
    }

    /// `picture` painted as `job` says, unstabilized: in its style and, with regions, blended
    /// with the outside (the original, or the picture in the outside's style) by its mask.
    private func paint(_ picture: Picture, _ job: SequenceJob, worker: TransformerWorker) throws -> Picture {
        let painted = try paint(picture, job.conditioning, worker: worker)
        guard let regions, let work = job.regions else { return painted }
        return try regions.regions.blend(painted, outside: work.outside.map { try paint(picture, $0, worker: worker) } ?? picture,
                                         original: picture, stored: work.stored)
    }

    /// `picture` painted with `conditioning`.
    private func paint(_ picture: Picture, _ conditioning: StyleConditioning, worker: TransformerWorker) throws -> Picture {
        try stylizer.stylize(picture, conditioning: conditioning, processingSize: options.video.processingSize,
                             preserveColors: options.video.preserveColors, worker: worker)
    }

    /// `picture` painted as `job` says, for the stabilizer: in its style and, with regions, the
    /// outside (the original, or the picture in the outside's style) and the mask, blended once
    /// each painted layer is steady.
    private func painted(_ picture: Picture, _ job: SequenceJob, worker: TransformerWorker) throws -> PaintedPicture {
        let stylized = try paint(picture, job.conditioning, worker: worker)
        var painted = PaintedPicture(input: TemporalStabilizer.Motion(picture.rgbImage), stylized: Handover(stylized.rgbImage))
        if let regions, let work = job.regions {
            let outside = try work.outside.map { PaintedPicture.Outside.stylized(Handover(try paint(picture, $0, worker: worker).rgbImage)) }
            let mask = try regions.regions.maskFrame(for: picture, width: stylized.width, height: stylized.height, stored: work.stored)
            painted.masked = (outside ?? .original(picture), mask)
        }
        return painted
    }

    /// A frame's picture, or nil when the file is not a readable picture (it is skipped and
    /// reported; a sequence is not lost to one broken frame). Other errors stop the job.
    static func load(_ frame: SequenceFrame) throws -> Picture? {
        do { return try frame.load() } catch StylizeError.unreadable { return nil }
    }

    private func stabilizer() -> TemporalStabilizer? {
        options.video.stabilization > 0 ? TemporalStabilizer(strength: options.video.stabilization) : nil
    }

    static func note(_ stabilizer: TemporalStabilizer, _ strength: Double) -> String {
        "stabilized (strength \(strength)), \(stabilizer.cuts) scene cuts"
    }
}

/// A frame out of a worker: finished, or waiting for the in-order stage (stabilization).
enum SequenceResult {
    case done
    case skipped(String)
    /// A frame for the stabilizer, then for `target` (nil: a warm-up frame, not written).
    case pending(index: Int, PaintedPicture, target: URL?)
}
