import CFFmpeg
import Foundation

/// Options of a frame-sequence job on top of the video ones.
public struct FrameSequenceOptions: Sendable {
    /// Processing, encoding and output options shared with video jobs.
    public var video = VideoOptions()
    /// Frame rate of a video assembled from the frames.
    public var frameRate: Double = 30
    /// Format of the pictures written to an output folder; nil keeps each input's own format.
    public var pictureFormat: Picture.OutputFormat?
    /// Keep taking frames as they appear in the input folder, until stopped.
    public var watch = false
    /// With `watch`: stop after this many seconds without a new frame.
    public var idleExit: Double?

    public init() {}
}

/// Stylizes an image sequence (for example what a webcam dumps into a folder) into a folder of
/// pictures with the same names, or into a video assembled at a fixed frame rate.
public final class FrameSequenceStylizer {
    public let stylizer: Stylizer
    public let options: FrameSequenceOptions

    public init(stylizer: Stylizer, options: FrameSequenceOptions) {
        self.stylizer = stylizer
        self.options = options
    }

    /// Container extensions that make the output a video rather than a folder.
    public static let videoExtensions: Set<String> = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "nut", "ts", "mpg", "mpeg", "flv"]

    /// Whether `output` names a video (by extension, or because a container was named).
    public func writesVideo(_ output: String) -> Bool {
        options.video.outputFormat != nil || Self.videoExtensions.contains(URL(fileURLWithPath: output).pathExtension.lowercased())
    }

    public func run(input: String, output: String, style: StyleVector,
                    progress: ((VideoProgress) -> Bool)? = nil) throws -> VideoSummary {
        try options.video.validate()
        guard options.frameRate > 0, options.frameRate.isFinite else { throw StylizeError.invalidArgument("the frame rate must be positive") }
        let sequence = try FrameSequence(input)
        let started = Date()
        let counter = FrameCounter()
        // Watching ends when the progress callback asks to stop.
        let stop = { progress.map { !$0(VideoProgress(framesDone: counter.value, framesTotal: nil, seconds: Date().timeIntervalSince(started))) } ?? false }
        let feed = FrameFeed(sequence, watch: options.watch, idleExit: options.idleExit)
        var pending: [SequenceFrame] = []
        if !options.watch {
            pending = try sequence.files().map { SequenceFrame(url: $0, picture: nil) }
            guard !pending.isEmpty else { throw StylizeError.unreadable(path: input, reason: "no frames found") }
        }
        var vector = style
        if options.video.strength < 1 {
            // The sequence's own style vector, once: from frames spread over it (the first one
            // when watching, as later ones do not exist yet).
            let sample: [SequenceFrame]
            if options.watch {
                guard let first = try feed.next(shouldStop: stop) else { throw StylizeError.cancelled }
                pending = [first]
                sample = [first]
            } else {
                let n = min(max(1, options.video.identitySamples), pending.count)
                sample = (0..<n).map { pending[(2 * $0 + 1) * pending.count / (2 * n)] }
            }
            let vectors = try sample.map { (try stylizer.styleVector(for: $0.load()), 1.0) }
            vector = try style.blended(towards: StyleVector.mix(vectors), strength: options.video.strength)
        }
        let conditioning = stylizer.transformer.conditioning(for: vector)
        let nextFile: () throws -> SequenceFrame? = {
            if !pending.isEmpty { return pending.removeFirst() }
            return self.options.watch ? try feed.next(shouldStop: stop) : nil
        }
        let total = options.watch ? nil : pending.count
        let report: () throws -> Void = {
            if let progress, !progress(VideoProgress(framesDone: counter.value, framesTotal: total, seconds: Date().timeIntervalSince(started))) {
                // Watching ends on a stop request; a finite sequence is cancelled by it.
                if !self.options.watch { throw StylizeError.cancelled }
            }
        }
        let (width, height, codec, notes): (Int, Int, String, [String])
        if writesVideo(output) {
            (width, height, codec, notes) = try runToVideo(output, conditioning: conditioning, nextFile: nextFile, report: report, counter: counter)
        } else {
            (width, height, codec, notes) = try runToFolder(input: sequence, output, conditioning: conditioning, nextFile: nextFile,
                                                             report: report, counter: counter)
        }
        let seconds = Date().timeIntervalSince(started)
        return VideoSummary(input: input, output: output, frames: counter.value, seconds: seconds,
                            framesPerSecond: Double(counter.value) / max(seconds, 1e-9), width: width, height: height,
                            videoCodec: codec, streams: notes)
    }

    private func workers() throws -> [TransformerWorker] {
        try (0..<options.video.workers).map { _ in try stylizer.makeWorker(precision: options.video.precision) }
    }

    private func runToFolder(input: FrameSequence, _ output: String, conditioning: StyleConditioning, nextFile: @escaping () throws -> SequenceFrame?,
                             report: @escaping () throws -> Void, counter: FrameCounter) throws -> (Int, Int, String, [String]) {
        let folder = URL(fileURLWithPath: output)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StylizeError.unwritable(path: output, reason: "not a folder (name a folder, or a video file such as out.mp4)") }
        } else {
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw StylizeError.unwritable(path: output, reason: error.localizedDescription)
            }
        }
        let format = options.pictureFormat
        let destination = { (source: URL) -> URL in
            let name = format.map { source.deletingPathExtension().lastPathComponent + "." + ($0 == .jpeg ? "jpg" : $0.rawValue) }
            return folder.appendingPathComponent(name ?? source.lastPathComponent)
        }
        if let inputFolder = input.folder, inputFolder.standardizedFileURL.resolvingSymlinksInPath() == folder.standardizedFileURL.resolvingSymlinksInPath(),
           format == nil {
            throw StylizeError.invalidArgument("the output folder is the input folder: the frames would be replaced; choose another folder or --format")
        }
        var size = (0, 0)
        let sizeLock = NSLock()
        let pipeline = OrderedPipeline<TransformerWorker, SequenceFrame, URL>(
            workers: try workers(), framesInFlight: max(options.video.framesInFlight, options.video.workers),
            process: { worker, source in
                let target = destination(source.url)
                let picture = try source.load()
                let result = try self.stylizer.stylize(picture, conditioning: conditioning, processingSize: self.options.video.processingSize, worker: worker)
                try result.write(to: target, overwrite: self.options.video.overwrite)
                sizeLock.withLock { size = (picture.width, picture.height) }
                return target
            },
            write: { _ in counter.increment() })
        try pipeline.run {
            try report()
            guard let file = try nextFile() else { return nil }
            if !self.options.video.overwrite && FileManager.default.fileExists(atPath: destination(file.url).path) {
                throw StylizeError.outputExists(destination(file.url).path)
            }
            return .work(file)
        }
        guard counter.value > 0 else { throw StylizeError.unreadable(path: "\(input)", reason: "no frames found") }
        return (size.0, size.1, format?.rawValue ?? "same as input", [])
    }

    private func runToVideo(_ output: String, conditioning: StyleConditioning, nextFile: @escaping () throws -> SequenceFrame?,
                            report: @escaping () throws -> Void, counter: FrameCounter) throws -> (Int, Int, String, [String]) {
        // The first frame fixes the video's size; later frames of another size are scaled to it.
        guard let firstFile = try nextFile() else { throw StylizeError.unreadable(path: output, reason: "no frames found") }
        let first = try firstFile.load()
        let rate = av_d2q(options.frameRate, 1_000_000)
        let colors = VideoColors(matrix: AVCOL_SPC_UNSPECIFIED, range: AVCOL_RANGE_MPEG, primaries: AVCOL_PRI_BT709,
                                 transfer: AVCOL_TRC_IEC61966_2_1, height: first.height)
        let writer = try VideoWriter(destination: output,
                                     video: .init(width: first.width, height: first.height, frameRate: rate, colors: colors, sourceCodec: "pictures"),
                                     reader: nil, options: options.video)
        var index: Int64 = 0
        var queued: SequenceFrame? = SequenceFrame(url: firstFile.url, picture: first)
        let converters = try workers().map { ($0, FrameConverter()) }
        let pipeline = OrderedPipeline<(TransformerWorker, FrameConverter), (SequenceFrame, Int64), VideoOutputItem>(
            workers: converters, framesInFlight: max(options.video.framesInFlight, options.video.workers),
            process: { worker, job in
                let picture = try job.0.load()
                let result = try self.stylizer.stylize(picture, conditioning: conditioning, processingSize: self.options.video.processingSize, worker: worker.0)
                let frame = try worker.1.frame(from: result.rgbImage, width: writer.width, height: writer.height,
                                               format: writer.pixelFormat, colors: writer.colors)
                frame.pointer.pointee.pts = job.1
                return .frame(frame)
            },
            write: { item in
                try writer.write(item)
                counter.increment()
            })
        do {
            try pipeline.run {
                try report()
                let file: SequenceFrame?
                if let q = queued { file = q; queued = nil } else { file = try nextFile() }
                guard let file else { return nil }
                defer { index += 1 }
                return .work((file, index))
            }
            try writer.finish()
        } catch {
            writer.muxer.abandon()
            throw error
        }
        return (writer.width, writer.height, writer.codecName, writer.notes)
    }
}
