import Foundation
import StylizeKit

/// A render before it runs: where it writes, the frames it will write, and the `stylize`
/// command line that does the same from the root (with its keyframes file, when it has one).
struct RenderPlan: Sendable {
    var settings: StudioSettings
    /// Relative to the root.
    var output: String
    var frames: Int
    var command: String
    var keyframesFile: (url: URL, data: Data)?

    static let clipExtensions: Set<String> = ["mp4", "mkv", "mov", "webm"]

    /// - Parameter taken: output names (in the renders folder) that queued renders will write.
    init(_ request: StudioSettings, engine: PreviewEngine, taken: Set<String> = []) throws {
        try request.validate()
        var settings = request
        settings.time = nil
        settings.width = nil
        let root = engine.root
        let info = try engine.info(settings.path, frameRate: settings.fps)
        if info.kind == .picture && settings.usesKeyframes {
            throw StudioError.badRequest("keyframes need a clip or a frame folder; a picture takes one style")
        }
        if info.kind != .clip && (settings.start != nil || settings.duration != nil) {
            throw StudioError.badRequest("a start and a length go with clips")
        }
        if info.kind != .frames && settings.fps != nil { throw StudioError.badRequest("a frame rate goes with frame folders") }
        if let start = settings.start, start >= info.duration {
            throw StudioError.badRequest(String(format: "the start, %.3f s, is past the end of the clip (%.3f s)", start, info.duration))
        }
        // Every style must resolve before the job is queued.
        _ = try engine.timeline(settings)

        let input = try root.resolve(settings.path)
        let stem = input.deletingPathExtension().lastPathComponent
        let name: String
        if let asked = settings.output?.trimmingCharacters(in: .whitespaces), !asked.isEmpty {
            guard !asked.contains("/"), !asked.hasPrefix("."), !asked.contains("\\") else {
                throw StudioError.badRequest("the output name \(asked) must be a file name, not a path")
            }
            let ext = (asked as NSString).pathExtension.lowercased()
            let allowed = info.kind == .picture ? Set(Picture.OutputFormat.extensions.keys) : Self.clipExtensions
            guard allowed.contains(ext) else {
                throw StudioError.badRequest("the output name must end in .\(allowed.sorted().joined(separator: ", ."))")
            }
            name = asked
            if taken.contains(name) || FileManager.default.fileExists(atPath: root.renders.appendingPathComponent(name).path) {
                throw StudioError.conflict("\(name) already exists among the renders; choose another name")
            }
        } else {
            let styleName = settings.usesKeyframes ? "transition" : Self.slug(settings.style ?? "styled")
            name = Self.freeName("\(stem)-\(styleName)", ext: info.kind == .picture ? "png" : "mp4", in: root.renders, taken: taken)
        }
        settings.output = name
        self.settings = settings
        output = StudioRoot.rendersPath + "/" + name
        frames = info.kind == .clip && (settings.start != nil || settings.duration != nil)
            ? max(1, Int((min(settings.duration ?? .infinity, info.duration - (settings.start ?? 0)) * info.frameRate).rounded()))
            : info.frames

        var words = ["stylize", info.kind == .clip ? "video" : info.kind == .frames ? "frames" : "image", settings.path, "-o", output]
        if let file = settings.keyframes, settings.usesKeyframes {
            let url = root.renders.appendingPathComponent((name as NSString).deletingPathExtension + ".keyframes.json")
            keyframesFile = (url, try Self.keyframesForFile(file, root: root))
            words += ["--keyframes", StudioRoot.rendersPath + "/" + url.lastPathComponent]
        } else {
            words += ["-s", settings.style ?? ""]
            if let strength = settings.strength, strength != 1 { words += ["--strength", Self.number(strength)] }
        }
        if let styleSize = settings.styleSize, styleSize != StylePredictor.inputSize { words += ["--style-size", String(styleSize)] }
        if let size = settings.size { words += ["--size", String(size)] }
        if settings.preserveColors ?? false { words.append("--preserve-colors") }
        if let precision = settings.precision, precision != .auto { words += ["--precision", precision.rawValue] }
        if let start = settings.start { words += ["--start", Self.number(start)] }
        if let duration = settings.duration { words += ["--duration", Self.number(duration)] }
        if let fps = settings.fps { words += ["--fps", Self.number(fps)] }
        if let stabilize = settings.stabilize, stabilize != VideoOptions().stabilization, info.kind != .picture {
            words += stabilize == 0 ? ["--no-stabilize"] : ["--stabilize", Self.number(stabilize)]
        }
        if let crf = settings.crf, info.kind != .picture { words += ["--crf", String(crf)] }
        command = words.map(Self.shellQuoted).joined(separator: " ")
    }

    /// Runs the render on the calling thread with what `stylize video`, `frames` or `image`
    /// would do; returns the frames written.
    static func render(_ settings: StudioSettings, to output: URL, engine: PreviewEngine, isCancelled: @escaping @Sendable () -> Bool,
                       progress: @escaping @Sendable (VideoProgress) -> Void) throws -> Int {
        let info = try engine.info(settings.path, frameRate: settings.fps)
        let input = try engine.root.resolve(settings.path)
        let timeline = try engine.timeline(settings)
        var options = VideoOptions()
        options.processingSize = settings.size
        options.preserveColors = settings.preserveColors ?? false
        options.precision = settings.precision ?? .auto
        options.start = settings.start
        options.duration = settings.duration
        options.crf = settings.crf
        if let stabilize = settings.stabilize { options.stabilization = stabilize }
        switch info.kind {
        case .clip:
            let summary = try VideoStylizer(stylizer: engine.stylizer, options: options)
                .run(input: .file(input), output: .file(output), timeline: timeline, progress: progress, isCancelled: isCancelled)
            return summary.frames
        case .frames:
            var sequence = FrameSequenceOptions()
            sequence.video = options
            sequence.frameRate = info.frameRate
            let summary = try FrameSequenceStylizer(stylizer: engine.stylizer, options: sequence)
                .run(input: input, output: output, timeline: timeline, progress: progress, isCancelled: isCancelled)
            return summary.frames
        case .picture:
            let picture = try Picture(contentsOf: input)
            let (vector, strength) = timeline.value(at: 0, frameRate: 30)
            let painted = try engine.stylizer.stylize(picture, style: vector, options: ImageStylizationOptions(
                processingSize: settings.size, strength: strength, precision: settings.precision ?? .auto,
                preserveColors: settings.preserveColors ?? false), worker: nil)
            if isCancelled() { throw CancellationError() }
            try painted.write(to: output, overwrite: false)
            progress(VideoProgress(framesDone: 1, framesTotal: 1, seconds: 0))
            return 1
        }
    }

    /// The keyframes as a file in the renders folder holds them: file styles relative to that
    /// folder (as `--keyframes` reads them), gallery names as they are.
    static func keyframesForFile(_ file: KeyframeFile, root: StudioRoot) throws -> Data {
        var file = file
        let up = String(repeating: "../", count: StudioRoot.rendersPath.split(separator: "/").count)
        for i in file.keyframes.indices {
            let resolved = try ResolvedStyle(file.keyframes[i].style, root: root)
            file.keyframes[i].style = resolved.spec.parts.map { part in
                let path = part.path.hasPrefix("/") ? up + root.relativePath(of: URL(fileURLWithPath: part.path)) : part.path
                return resolved.spec.parts.count == 1 ? path : "\(path):\(number(part.weight))"
            }.joined(separator: ",")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(file)
    }

    /// A number as the command line takes it back exactly: whole numbers without a point,
    /// others in the shortest form that reads back as the same value.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// A short file-name-safe form of a style spec: its first part's name.
    static func slug(_ style: String) -> String {
        let first = style.split(separator: ",").first.map { String($0.split(separator: ":").first ?? $0) } ?? style
        let name = (first as NSString).deletingPathExtension
        let base = (name as NSString).lastPathComponent
        let cleaned = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return cleaned.isEmpty ? "styled" : String(cleaned.prefix(40))
    }

    /// `base.ext` if no file of that name exists in `folder` and none is `taken`, else `base-2.ext`, `base-3.ext`, ...
    static func freeName(_ base: String, ext: String, in folder: URL, taken: Set<String>) -> String {
        var name = "\(base).\(ext)"
        var n = 2
        while taken.contains(name) || FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            name = "\(base)-\(n).\(ext)"
            n += 1
        }
        return name
    }

    /// A word as a POSIX shell reads it back: bare when it is only safe characters, else in single quotes.
    static func shellQuoted(_ word: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:,@%+=-")
        if !word.isEmpty, word.unicodeScalars.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
