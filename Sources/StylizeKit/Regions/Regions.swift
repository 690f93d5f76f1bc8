import CFFmpeg
import Foundation

/// Where the style goes and what fills the rest. A mask says it per pixel: white takes the job's
/// style, black the outside (the original frame, or a second style), grey a proportional blend.
/// Its edges are softened over `feather` pixels so that no seam shows. The blend is made on the
/// frame as it goes to the encoder, in its own pixel format. With the stabilizer, a clip's or a
/// live source's painted layers are steadied each on its own and the blend comes after, so that a
/// moving mask leaves no trail; a frame sequence is blended first.
public struct Regions: Sendable {
    /// What fills the part of the frame the mask leaves out.
    public enum Outside: Sendable, Equatable {
        /// The source's own pixels.
        case original
        /// A second style at its own strength (0...1).
        case style(StyleSpec, strength: Double = 1)
        /// A second style that moves between keyframes, as the job's own style can.
        case keyframes([KeyframeSpec], easing: Easing = .linear)
    }

    /// The soft band along a mask's edges, in pixels, unless one is asked for: pixels more than
    /// half of it away from an edge are exactly inside or outside.
    public static let defaultFeather = 4

    /// The mask.
    public var mask: MaskSource
    /// Whether black, not white, marks where the style goes.
    public var invert = false
    /// The width in output pixels of the soft band along the mask's edges (0: a hard edge).
    public var feather = Regions.defaultFeather
    /// What fills the rest.
    public var outside: Outside = .original

    /// Regions from `mask`, with the original outside and the default feather.
    public init(mask: MaskSource, outside: Outside = .original, invert: Bool = false, feather: Int = Regions.defaultFeather) {
        self.mask = mask
        self.outside = outside
        self.invert = invert
        self.feather = feather
    }

    /// Checks what can be checked before anything is read.
    func validate() throws {
        guard (0...256).contains(feather) else { throw StylizeError.invalidArgument("the mask's feather must be from 0 to 256 pixels, got \(feather)") }
        try mask.validate()
        switch outside {
        case .original: break
        case .style(_, let strength): try StyleVector.check(strength: strength, name: "the outside's strength")
        case .keyframes(let keys, _):
            guard !keys.isEmpty else { throw StylizeError.invalidArgument("the outside's keyframes need at least one key") }
            for key in keys { try StyleVector.check(strength: key.strength, name: "the outside's keyframe strength") }
        }
    }
}

/// Where a job's mask comes from.
public enum MaskSource: Sendable, CustomStringConvertible {
    /// A file FFmpeg reads: a picture (one mask for every frame), a clip (a mask per frame,
    /// matched by time; a shorter clip holds its last frame), or a frame folder or pattern (a
    /// mask per frame, matched by index). Masks of another size are scaled to the output's. A
    /// picture whose alpha is used (transparent somewhere) gives its alpha, others (an opaque
    /// alpha included) their brightness; a clip's frames give their alpha where they have one.
    case file(URL)
    /// A colour keyed out of each frame (a green screen): pixels near it get the outside.
    case key(ColorKey)
    /// Each frame's own brightness: pixels whose luma (0 black, 1 white) is within the range
    /// take the style.
    case luma(ClosedRange<Double>)
    /// Masks the caller makes, one per frame (a segmentation model's output, for example).
    case supplied(MaskFeed)

    /// Parses `--mask`: `key:COLOR[:SIMILARITY:BLEND]`, `luma:LOW-HIGH`, or a file's path.
    public init(parsing text: String) throws {
        if text.hasPrefix("key:") {
            self = .key(try ColorKey(parsing: String(text.dropFirst(4))))
        } else if text.hasPrefix("luma:") {
            let bounds = text.dropFirst(5).split(separator: "-", omittingEmptySubsequences: false).map { Double($0) }
            guard bounds.count == 2, let low = bounds[0], let high = bounds[1], low <= high else {
                throw StylizeError.invalidArgument("a luma mask is luma:LOW-HIGH with 0 <= LOW <= HIGH <= 1, got \(text)")
            }
            self = .luma(low...high)
        } else {
            guard !text.isEmpty else { throw StylizeError.invalidArgument("the mask is empty") }
            self = .file(URL(fileURLWithPath: text))
        }
        try validate()
    }

    /// The mask as `--mask` takes it back (a supplied mask has no such form).
    public var description: String {
        switch self {
        case .file(let url): return url.displayPath
        case .key(let key): return "key:" + key.description
        case .luma(let range): return "luma:\(commandLineNumber(range.lowerBound))-\(commandLineNumber(range.upperBound))"
        case .supplied: return "(supplied)"
        }
    }

    func validate() throws {
        switch self {
        case .file(let url):
            guard !url.path.isEmpty else { throw StylizeError.invalidArgument("the mask is empty") }
        case .key(let key): try key.validate()
        case .luma(let range):
            guard range.lowerBound >= 0, range.upperBound <= 1 else {
                throw StylizeError.invalidArgument("a luma mask's bounds must be within 0...1, got \(range.lowerBound)-\(range.upperBound)")
            }
        case .supplied: break
        }
    }
}

/// A colour to key out, as FFmpeg's chromakey filter compares it: by chroma only, so that the
/// shadows and highlights of a screen key out with it. Distances run from 0 (the same chroma) to 1.
public struct ColorKey: Sendable, Equatable, CustomStringConvertible {
    /// The colour as FFmpeg names it: `green` (#008000), `#00B140`, `0x00B140`, ... (`ffmpeg -colors`).
    public var color: String
    /// Colours within this distance are keyed out wholly.
    public var similarity: Double
    /// Beyond `similarity`, keying fades out over this much more distance (0: a hard cut).
    public var blend: Double

    /// The similarity unless one is given: FFmpeg's distances put neutral greys about 0.08 from
    /// `green`, skin tones about 0.1, and a #00B140 screen 0.03.
    public static let defaultSimilarity = 0.04
    /// The blend unless one is given, so that greys and skin stay whole.
    public static let defaultBlend = 0.03

    /// A key for `color`.
    public init(color: String, similarity: Double = ColorKey.defaultSimilarity, blend: Double = ColorKey.defaultBlend) {
        self.color = color
        self.similarity = similarity
        self.blend = blend
    }

    /// Parses `COLOR[:SIMILARITY:BLEND]`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || parts.count == 3 else {
            throw StylizeError.invalidArgument("a colour key is key:COLOR or key:COLOR:SIMILARITY:BLEND, got key:\(text)")
        }
        self.init(color: parts[0])
        if parts.count == 3 {
            guard let similarity = Double(parts[1]), let blend = Double(parts[2]) else {
                throw StylizeError.invalidArgument("a colour key's similarity and blend are numbers, got key:\(text)")
            }
            (self.similarity, self.blend) = (similarity, blend)
        }
        try validate()
    }

    /// The key as `--mask key:` takes it back.
    public var description: String {
        let defaults = similarity == Self.defaultSimilarity && blend == Self.defaultBlend
        return defaults ? color : "\(color):\(commandLineNumber(similarity)):\(commandLineNumber(blend))"
    }

    /// The colour as red, green and blue bytes, from FFmpeg's colour parser.
    func rgb() throws -> (UInt8, UInt8, UInt8) {
        var rgba: [UInt8] = [0, 0, 0, 0]
        guard !color.isEmpty, av_parse_color(&rgba, color, -1, nil) >= 0 else {
            throw StylizeError.invalidArgument("\"\(color)\" is not a colour FFmpeg knows (a name such as green, or #RRGGBB)")
        }
        return (rgba[0], rgba[1], rgba[2])
    }

    func validate() throws {
        _ = try rgb()
        guard (0.01...1).contains(similarity) else { throw StylizeError.invalidArgument("a colour key's similarity must be from 0.01 to 1, got \(similarity)") }
        guard (0...1).contains(blend) else { throw StylizeError.invalidArgument("a colour key's blend must be from 0 to 1, got \(blend)") }
    }
}

/// One mask a caller supplies: `width` x `height` values, row by row, 255 where the style goes,
/// 0 where the outside does. The job scales it to the output's size.
public struct RegionMask: Sendable {
    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// `width * height` values.
    public let values: [UInt8]

    /// A mask of `width` x `height` `values`; throws when the count of values is not that.
    public init(width: Int, height: Int, values: [UInt8]) throws {
        guard width > 0, height > 0, values.count == width * height else {
            throw StylizeError.invalidArgument("a mask of \(width)x\(height) takes \(max(0, width * height)) values, got \(values.count)")
        }
        self.width = width
        self.height = height
        self.values = values
    }
}

/// Masks a caller supplies frame by frame. The job asks for each frame's in order, on its
/// reading thread: `mask(index, seconds)` gets the frame's index among those read and its time
/// on the source's timeline, and returns its mask.
public final class MaskFeed: Sendable {
    let mask: @Sendable (_ index: Int, _ seconds: Double) throws -> RegionMask

    /// A feed that calls `mask` for each frame.
    public init(_ mask: @escaping @Sendable (_ index: Int, _ seconds: Double) throws -> RegionMask) {
        self.mask = mask
    }
}

