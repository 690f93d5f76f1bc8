import Foundation

/// Where a keyframe sits: at a time, or at a frame index (`#N`, resolved with the clip's frame
/// rate, N / fps seconds).
public enum KeyframeTime: Equatable, Sendable, CustomStringConvertible {
    /// A time in seconds from the start.
    case seconds(Double)
    /// A frame index (`#N`), placed at N / the frame rate.
    case frame(Int)

    /// Seconds (`2.5`), `MM:SS.mmm`, `HH:MM:SS.mmm`, or a frame index `#N`.
    public init(parsing text: String) throws {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("#") {
            guard let index = Int(text.dropFirst()), index >= 0 else {
                throw StylizeError.invalidArgument("bad keyframe time \"\(text)\": a frame index is # and a whole number, e.g. #120")
            }
            self = .frame(index)
        } else {
            self = .seconds(try parseSeconds(text))
        }
    }

    /// Seconds on the clip's timeline; frame N of a clip at `frameRate` is at N / frameRate.
    public func seconds(frameRate: Double) -> Double {
        switch self {
        case .seconds(let s): return s
        case .frame(let n): return Double(n) / frameRate
        }
    }

    /// The time as written: seconds, or `#N`.
    public var description: String {
        switch self {
        case .seconds(let s): return String(format: "%.3fs", s)
        case .frame(let n): return "#\(n)"
        }
    }
}

/// How a transition between two keyframes is paced. Each maps [0, 1] onto [0, 1], monotone,
/// with 0 -> 0 and 1 -> 1.
public enum Easing: String, CaseIterable, Sendable, Codable {
    /// Constant speed.
    case linear
    /// Smoothstep, 3u² - 2u³: gentle at both ends.
    case smooth
    /// Quadratic ease-in: starts slowly.
    case `in`
    /// Quadratic ease-out: ends slowly.
    case out
    /// Cubic ease-in-out: slow, fast, slow, more marked than `smooth`.
    case inOut = "in-out"

    /// The eased position for `u`, the linear position between two keyframes (0...1).
    public func callAsFunction(_ u: Double) -> Double {
        let u = min(max(u, 0), 1)
        switch self {
        case .linear: return u
        case .smooth: return u * u * (3 - 2 * u)
        case .in: return u * u
        case .out: return 1 - (1 - u) * (1 - u)
        case .inOut: return u < 0.5 ? 4 * u * u * u : 1 - pow(-2 * u + 2, 3) / 2
        }
    }
}

/// A keyframe as users write it, before its style is turned into a vector:
/// `TIME=STYLE[@STRENGTH]`, e.g. `2.5=starry.jpg`, `00:01:00=a.jpg:0.5,b.json:0.5@0.8`, `#120=b.json`.
public struct KeyframeSpec: Equatable, Sendable {
    /// Where the keyframe is.
    public var time: KeyframeTime
    /// The style there.
    public var style: StyleSpec
    /// The style's strength there (0...1).
    public var strength: Double

    /// A keyframe; throws when the strength is outside 0...1.
    public init(time: KeyframeTime, style: StyleSpec, strength: Double = 1) throws {
        try StyleVector.check(strength: strength, name: "keyframe strength")
        self.time = time
        self.style = style
        self.strength = strength
    }

    /// A keyframe as the command line writes it: `TIME=STYLE` or `TIME=STYLE@STRENGTH`, with
    /// TIME as `KeyframeTime(parsing:)` reads it.
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw StylizeError.invalidArgument("bad keyframe \"\(text)\": write TIME=STYLE[@STRENGTH], e.g. 2.5=starry.jpg@0.8")
        }
        var style = String(text[text.index(after: equals)...])
        var strength = 1.0
        if let at = style.lastIndex(of: "@"), let value = Double(style[style.index(after: at)...]) {
            strength = value
            style = String(style[..<at])
        }
        try self.init(time: KeyframeTime(parsing: String(text[..<equals])), style: StyleSpec(parsing: style), strength: strength)
    }
}

/// The keyframes file of `--keyframes FILE.json`:
/// `{"ease": "smooth", "keyframes": [{"time": "0", "style": "a.jpg"}, {"time": "#120", "style": "b.json", "strength": 0.8}]}`.
/// Times are strings as on the command line, or numbers of seconds; paths in styles are
/// relative to the file's folder.
package struct KeyframeFile: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var time: Time
        public var style: String
        public var strength: Double?
    }

    /// A time written as a number of seconds or as a string.
    public enum Time: Codable, Sendable {
        case number(Double)
        case text(String)

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .number(let n): try container.encode(n)
            case .text(let t): try container.encode(t)
            }
        }
    }

    public var ease: Easing?
    public var keyframes: [Entry]

    /// Reads and checks a keyframes file.
    public static func read(_ url: URL) throws -> (keyframes: [KeyframeSpec], ease: Easing?) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw StylizeError.fileNotFound(url.relativePath) }
        return try parse(data, path: url.relativePath)
    }

    /// Parses the contents of a keyframes file found at `path` (relative styles resolve against
    /// its folder; a name found there as no file is left as it is, for the gallery).
    public static func parse(_ data: Data, path: String) throws -> (keyframes: [KeyframeSpec], ease: Easing?) {
        let url = URL(fileURLWithPath: path)
        let file: KeyframeFile
        do { file = try JSONDecoder().decode(KeyframeFile.self, from: data) } catch {
            throw StylizeError.invalidArgument("\(path) is not a keyframes file: {\"ease\": \"linear\", \"keyframes\": [{\"time\": \"0\", \"style\": \"a.jpg\"}, ...]}")
        }
        let folder = url.deletingLastPathComponent()
        let keys = try file.keyframes.map { entry -> KeyframeSpec in
            let time: KeyframeTime
            switch entry.time {
            case .number(let s):
                guard s >= 0, s.isFinite else { throw StylizeError.invalidArgument("\(path): keyframe time \(s) is negative") }
                time = .seconds(s)
            case .text(let t): time = try KeyframeTime(parsing: t)
            }
            var spec = try StyleSpec(parsing: entry.style)
            for i in spec.parts.indices where !spec.parts[i].path.hasPrefix("/") {
                let beside = folder.appendingPathComponent(spec.parts[i].path)
                if FileManager.default.fileExists(atPath: beside.path) || StyleGallery.builtIn.vector(named: spec.parts[i].path) == nil {
                    spec.parts[i].path = beside.relativePath
                }
            }
            return try KeyframeSpec(time: time, style: spec, strength: entry.strength ?? 1)
        }
        guard !keys.isEmpty else { throw StylizeError.invalidArgument("\(path) has no keyframes") }
        return (keys, file.ease)
    }
}

/// The style over time: keyframes, each a style vector and a strength, interpolated frame by
/// frame (Ghiasi et al. 2017, section 5: the style space is smooth enough to move through). A
/// timeline with one keyframe is a constant style. Before the first keyframe and after the
/// last, the value holds.
public struct StyleTimeline: Sendable {
    /// A keyframe whose style is already a vector.
    public struct Key: Sendable {
        /// Where the key is.
        public var time: KeyframeTime
        /// The style vector there.
        public var vector: StyleVector
        /// The style's strength there (0...1).
        public var strength: Double

        /// A key with each value given.
        public init(time: KeyframeTime, vector: StyleVector, strength: Double) {
            self.time = time
            self.vector = vector
            self.strength = strength
        }
    }

    /// The keys, in time order.
    public let keys: [Key]
    /// How the style moves between two keys.
    public let easing: Easing

    /// A timeline through `keys` (at least one, in time order), eased by `easing`. Throws for no
    /// keys or a strength outside 0...1.
    public init(keys: [Key], easing: Easing = .linear) throws {
        guard !keys.isEmpty else { throw StylizeError.invalidArgument("a style timeline needs at least one keyframe") }
        for key in keys { try StyleVector.check(strength: key.strength, name: "keyframe strength") }
        self.keys = keys
        self.easing = easing
    }

    /// One style for the whole clip.
    public init(constant vector: StyleVector, strength: Double = 1) throws {
        try self.init(keys: [Key(time: .seconds(0), vector: vector, strength: strength)])
    }

    /// Whether any point of the timeline blends towards the content's own style.
    public var needsIdentity: Bool { keys.contains { $0.strength < 1 } }

    /// Whether the style changes over time.
    public var isConstant: Bool { keys.count == 1 }

    /// The style vector and strength at `seconds` on the clip's timeline.
    public func value(at seconds: Double, frameRate: Double) -> (vector: StyleVector, strength: Double) {
        let ordered = keys.enumerated().map { (time: $0.element.time.seconds(frameRate: frameRate), order: $0.offset, key: $0.element) }
            .sorted { ($0.time, $0.order) < ($1.time, $1.order) }
        guard let first = ordered.first, seconds > first.time else { return (ordered[0].key.vector, ordered[0].key.strength) }
        // The last key at or before `seconds` and the one after it.
        let i = ordered.lastIndex { $0.time <= seconds }!
        guard i + 1 < ordered.count else { return (ordered[i].key.vector, ordered[i].key.strength) }
        let (a, b) = (ordered[i], ordered[i + 1])
        let u = easing((seconds - a.time) / (b.time - a.time))
        if u == 0 { return (a.key.vector, a.key.strength) }
        if u == 1 { return (b.key.vector, b.key.strength) }
        let vector = zip(a.key.vector.values, b.key.vector.values).map { Float(Double($0) * (1 - u) + Double($1) * u) }
        return (StyleVector(unchecked: vector), a.key.strength * (1 - u) + b.key.strength * u)
    }

    /// The vector the transformer runs on at `seconds`: the style blended with `identity` by
    /// the strength (identity may be nil when every strength is 1).
    public func effectiveVector(at seconds: Double, frameRate: Double, identity: StyleVector?) throws -> StyleVector {
        let (vector, strength) = value(at: seconds, frameRate: frameRate)
        guard strength < 1 else { return vector }
        guard let identity else { throw StylizeError.invalidArgument("a strength below 1 needs the content's own style vector") }
        return try vector.blended(towards: identity, strength: strength)
    }
}
