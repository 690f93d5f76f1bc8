import Foundation
import StylizeKit

/// What the page sends for a preview or a render: the input, the style (a spec, or keyframes
/// that move it over time) and the options `stylize video` takes for them.
struct StudioSettings: Codable, Sendable {
    /// The input, relative to the root: a clip, a picture or a folder of pictures.
    var path: String
    /// A style spec (`starry-night`, `a.jpg:0.7,great-wave:0.3`); ignored when keyframes are given.
    var style: String?
    var strength: Double?
    var styleSize: Int?
    /// The brush scale: the shorter side, in pixels, the network paints at (nil: the frame's own).
    var size: Int?
    var preserveColors: Bool?
    /// The network's arithmetic (nil: `auto`).
    var precision: Precision?
    /// Keyframes as a `--keyframes` file holds them (styles relative to the root).
    var keyframes: KeyframeFile?
    /// Preview only: the time on the input's timeline, in seconds.
    var time: Double?
    /// Preview only: the width of the picture sent back.
    var width: Int?
    /// Render only: the output's file name (in the renders folder).
    var output: String?
    /// Render only, clips: the part to stylize, in seconds (`--start`, `--duration`).
    var start: Double?
    var duration: Double?
    /// Render only, clips and frame folders: temporal stabilization, 0 to 1 (`--stabilize`;
    /// nil: the command's default).
    var stabilize: Double?
    /// Render only, video outputs: the encoder's constant-quality level (`--crf`).
    var crf: Int?
    /// Frame folders: the rate their pictures are shown at (`stylize frames --fps`), which
    /// places keyframes and times the output clip (nil: 30).
    var fps: Double?
    /// Where the style goes (`--mask`): a picture, clip or frame folder under the root,
    /// `key:COLOR[:SIMILARITY:BLEND]` or `luma:LOW-HIGH`; nil or empty: everywhere.
    var mask: String?
    /// `--mask-invert`.
    var maskInvert: Bool?
    /// `--mask-feather`, in pixels (nil: the default).
    var maskFeather: Int?
    /// What fills the rest (`--outside`): `original` (or nil), or a style spec.
    var outside: String?
    /// `--outside-strength` (nil: 1).
    var outsideStrength: Double?
    /// Preview only: tint what the mask leaves out, to show where the style goes.
    var maskOverlay: Bool?

    var usesKeyframes: Bool { !(keyframes?.keyframes.isEmpty ?? true) }

    /// Checks the ranges the page's controls allow, so that a refusal names the field.
    func validate() throws {
        if let strength, let problem = StyleVector.strengthProblem(strength) { throw StudioError.badRequest(problem) }
        if let styleSize, !StylePredictor.sideRange.contains(styleSize) {
            throw StudioError.badRequest("style size must be from \(StylePredictor.sideRange.lowerBound) to \(StylePredictor.sideRange.upperBound), got \(styleSize)")
        }
        if let size, size < StyleTransformer.minimumSide || size > 4096 {
            throw StudioError.badRequest("brush size must be from \(StyleTransformer.minimumSide) to 4096 pixels, got \(size)")
        }
        if let start, !(start.isFinite && start >= 0) { throw StudioError.badRequest("start must be 0 or more seconds, got \(start)") }
        if let duration, !(duration.isFinite && duration > 0) { throw StudioError.badRequest("length must be more than 0 seconds, got \(duration)") }
        if let stabilize, !(0...1).contains(stabilize) { throw StudioError.badRequest("stabilization must be between 0 and 1, got \(stabilize)") }
        if let crf, !(0...63).contains(crf) { throw StudioError.badRequest("quality (CRF) must be from 0 to 63, got \(crf)") }
        if let fps, !(fps.isFinite && fps > 0 && fps <= 1000) { throw StudioError.badRequest("frame rate must be above 0 and at most 1000, got \(fps)") }
        if let width, !(16...3840).contains(width) { throw StudioError.badRequest("preview width must be from 16 to 3840, got \(width)") }
        if !usesKeyframes && (style ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw StudioError.badRequest("choose a style (or add keyframes)")
        }
        if let outsideStrength, let problem = StyleVector.strengthProblem(outsideStrength, name: "the outside's strength") {
            throw StudioError.badRequest(problem)
        }
        if let maskFeather, !(0...256).contains(maskFeather) { throw StudioError.badRequest("the mask's feather must be from 0 to 256 pixels, got \(maskFeather)") }
        if let mask = maskText {
            do { _ = try MaskSource(parsing: mask) } catch { throw StudioError.badRequest(error.localizedDescription) }
        }
        for entry in keyframes?.keyframes ?? [] {
            if let strength = entry.strength, let problem = StyleVector.strengthProblem(strength, name: "keyframe strength") {
                throw StudioError.badRequest(problem)
            }
        }
    }
}

extension StudioSettings {
    /// The mask as typed, nil when there is none.
    var maskText: String? {
        let text = mask?.trimmingCharacters(in: .whitespaces) ?? ""
        return text.isEmpty ? nil : text
    }

    /// The regions a job takes, nil without a mask. With `root`, the mask's file and the
    /// outside's styles are resolved under it (what a run reads); without, they stay as typed
    /// (what the command line shows, run from the root).
    func regions(root: StudioRoot?) throws -> Regions? {
        guard let text = maskText else { return nil }
        var source = try MaskSource(parsing: text)
        if case .file = source, let root { source = .file(try root.resolve(text)) }
        var regions = Regions(mask: source, invert: maskInvert ?? false, feather: maskFeather ?? Regions.defaultFeather)
        if let outside = outside?.trimmingCharacters(in: .whitespaces), !outside.isEmpty, outside != "original" {
            let spec = try root.map { try ResolvedStyle(outside, root: $0).spec } ?? StyleSpec(parsing: outside)
            regions.outside = .style(spec, strength: outsideStrength ?? 1)
        }
        return regions
    }
}

/// A style spec whose parts are checked against the root: gallery names stay names, files
/// become absolute paths, what StylizeKit reads (the command line shows the spec as typed).
struct ResolvedStyle: Sendable {
    var spec: StyleSpec

    init(_ text: String, root: StudioRoot) throws {
        var spec = try StyleSpec(parsing: text)
        for i in spec.parts.indices {
            let name = spec.parts[i].path
            let isFile = !name.contains("/") && FileManager.default.fileExists(atPath: root.url.appendingPathComponent(name).path)
            if StyleGallery.builtIn.vector(named: name) != nil && !isFile { continue }
            guard !name.hasPrefix("/") else { throw StudioError.forbidden("\(name): styles are named relative to the studio's root") }
            do {
                spec.parts[i].path = try root.resolve(name).path
            } catch let error as StudioError where error.status == .notFound {
                let close = StyleGallery.builtIn.closestNames(to: name)
                throw StudioError.badRequest("unknown style \(name): no gallery style or file of that name (closest: \(close.joined(separator: ", ")))")
            }
        }
        self.spec = spec
    }
}

extension KeyframeFile.Time {
    /// The time as a keyframe time (seconds, `MM:SS.mmm`, or a frame index `#N`).
    func keyframeTime() throws -> KeyframeTime {
        switch self {
        case .number(let seconds):
            guard seconds.isFinite, seconds >= 0 else { throw StudioError.badRequest("keyframe time \(seconds) is negative") }
            return .seconds(seconds)
        case .text(let text):
            return try KeyframeTime(parsing: text)
        }
    }
}
