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
        // Every style, and the mask's file, must resolve before the job is queued.
        _ = try engine.timeline(Self.job(settings, kind: info.kind, input: root.resolve(settings.path), output: root.renders, frameRate: info.frameRate,
                                         root: root))

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

        var keyframesPath: String?
        if let file = settings.keyframes, settings.usesKeyframes {
            let url = root.renders.appendingPathComponent((name as NSString).deletingPathExtension + ".keyframes.json")
            keyframesFile = (url, try Self.keyframesForFile(file, root: root))
            keyframesPath = StudioRoot.rendersPath + "/" + url.lastPathComponent
        }
        let job = try Self.job(settings, kind: info.kind, input: URL(fileURLWithPath: settings.path), output: URL(fileURLWithPath: output),
                               frameRate: info.frameRate)
        var shown = job
        shown.keyframesFile = keyframesPath
        command = shown.shellCommand
    }

    /// The job a render runs: what `stylize video`, `frames` or `image` does with these settings.
    /// With `root`, the styles' files and the mask are resolved under it; without, they stay
    /// as typed (for the command line).
    static func job(_ settings: StudioSettings, kind: MediaInfo.Kind, input: URL, output: URL, frameRate: Double,
                    root: StudioRoot? = nil) throws -> StylizeJob {
        let parse = { (text: String) in try root.map { try ResolvedStyle(text, root: $0).spec } ?? StyleSpec(parsing: text) }
        let style: StylizeJob.Style
        if let file = settings.keyframes, settings.usesKeyframes {
            style = .keyframes(try file.keyframes.map { entry in
                try KeyframeSpec(time: entry.time.keyframeTime(), style: parse(entry.style), strength: entry.strength ?? 1)
            }, easing: file.ease ?? .linear)
        } else {
            style = .single(try parse(settings.style ?? ""), strength: settings.strength ?? 1)
        }
        let source: StylizeJob.Source = switch kind {
        case .clip: .clip(.file(input))
        case .frames: .frames(input)
        case .picture: .picture(input)
        }
        var job = StylizeJob(source: source, output: .file(output), style: style)
        job.styleSize = settings.styleSize ?? StylePredictor.inputSize
        job.options.processingSize = settings.size
        job.options.preserveColors = settings.preserveColors ?? false
        job.options.precision = settings.precision ?? .auto
        job.options.start = settings.start
        job.options.duration = settings.duration
        if kind != .picture {
            job.options.crf = settings.crf
            if let stabilize = settings.stabilize { job.options.stabilization = stabilize }
        }
        if kind == .frames { job.sequence.frameRate = frameRate }
        job.regions = try settings.regions(root: root)
        return job
    }

    /// Runs the render on the calling thread with what `stylize video`, `frames` or `image`
    /// would do; returns the frames written.
    static func render(_ settings: StudioSettings, to output: URL, engine: PreviewEngine, isCancelled: @escaping @Sendable () -> Bool,
                       progress: @escaping @Sendable (JobProgress) -> Void) throws -> Int {
        let info = try engine.info(settings.path, frameRate: settings.fps)
        let job = try Self.job(settings, kind: info.kind, input: try engine.root.resolve(settings.path), output: output, frameRate: info.frameRate,
                               root: engine.root)
        return try job.run(with: engine.stylizer, timeline: engine.timeline(job), progress: progress, isCancelled: isCancelled).frames
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
                return resolved.spec.parts.count == 1 ? path : "\(path):\(StylizeJob.number(part.weight))"
            }.joined(separator: ",")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(file)
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
}
