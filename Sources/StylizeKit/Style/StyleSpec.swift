import Foundation

/// A style as users write it: a picture, a vector file (`.json`), a gallery name
/// (`starry-night`, see `StyleGallery`), or a weighted mix of them, `a.jpg:0.7,b.json:0.3`.
/// In a mix either every part has a weight or none has (equal weights); weights are normalised
/// to sum to 1.
public struct StyleSpec: Equatable, Sendable, CustomStringConvertible {
    /// One source of a mix.
    public struct Part: Equatable, Sendable {
        /// The picture, the vector file or the gallery name, as written.
        public var path: String
        /// The part's weight as written (1 when none is); the mix normalises the weights.
        public var weight: Double
        /// Whether the part names a vector file rather than a picture.
        public var isVectorFile: Bool { path.lowercased().hasSuffix(".json") }
    }

    /// The sources of the mix, in the order written.
    public var parts: [Part]

    /// Parses the grammar above. A part's weight is the number after its last `:`. Text after
    /// a colon that is not a number is refused, unless the whole part names an existing file
    /// (a path with a colon in it).
    public init(parsing text: String) throws {
        let pieces = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw StylizeError.badStyle("the style is empty") }
        var unweighted: [String] = []
        parts = try pieces.map { piece in
            guard !piece.isEmpty else { throw StylizeError.badStyle("empty entry in \"\(text)\"") }
            guard let colon = piece.lastIndex(of: ":"), !FileManager.default.fileExists(atPath: piece) else {
                unweighted.append(piece)
                return Part(path: piece, weight: 1)
            }
            let path = String(piece[..<colon]), weightText = piece[piece.index(after: colon)...]
            guard !path.isEmpty else { throw StylizeError.badStyle("\"\(piece)\" has a weight but no style") }
            guard let weight = Double(weightText) else {
                throw StylizeError.badStyle("the weight \"\(weightText)\" of \(path) is not a number (write STYLE:WEIGHT, e.g. \(path):0.5)")
            }
            guard weight.isFinite, weight >= 0 else { throw StylizeError.badStyle("weight \(weight) of \(path) is negative or not finite") }
            return Part(path: path, weight: weight)
        }
        if let bare = unweighted.first, unweighted.count < parts.count {
            throw StylizeError.badStyle("\(bare) has no weight in a mix whose other styles have one: give every style a weight (a.jpg:0.7,b.json:0.3) or none (equal weights)")
        }
        guard parts.reduce(0, { $0 + $1.weight }) > 0 else { throw StylizeError.badStyle("the weights in \"\(text)\" add up to zero") }
    }

    /// The spec as written: the path alone for one unweighted part, else `path:weight` parts.
    public var description: String {
        parts.count == 1 && parts[0].weight == 1 ? parts[0].path : parts.map { "\($0.path):\($0.weight)" }.joined(separator: ",")
    }
}

extension Stylizer {
    /// The style vector of any picture, prepared as Magenta does: the centred square, resized
    /// to `styleSize` x `styleSize` (default 256, the side the predictor was trained at) with
    /// area averaging. Smaller sizes give coarser, bigger brush features.
    public func styleVector(for picture: Picture, styleSize: Int = StylePredictor.inputSize) throws -> StyleVector {
        try Self.checkStyleSize(styleSize)
        return try predictor.vector(for: picture.centreSquare.resized(width: styleSize, height: styleSize).rgbImage)
    }

    /// The vector a spec stands for: each picture through the style predictor at `styleSize`,
    /// each vector file read, each gallery name looked up, then the weighted mix. Vector files
    /// and gallery styles are vectors already, which `styleSize` does not change.
    public func styleVector(for spec: StyleSpec, styleSize: Int = StylePredictor.inputSize,
                            gallery: StyleGallery = .builtIn) throws -> StyleVector {
        try Self.checkStyleSize(styleSize)
        let parts = try spec.parts.map { part -> (vector: StyleVector, weight: Double) in
            switch try part.source(in: gallery) {
            case .gallery(let name):
                return (gallery.vector(named: name)!, part.weight)
            case .vectorFile(let url):
                return (try StyleVectorFile.read(url), part.weight)
            case .picture(let url):
                do {
                    try Self.refuseClip(url)
                    return (try styleVector(for: Picture(contentsOf: url), styleSize: styleSize), part.weight)
                } catch StylizeError.unreadable(let path, let reason) {
                    throw StylizeError.badStyle("\(path) is neither a picture nor a .json vector file (\(reason))")
                }
            }
        }
        return try StyleVector.mix(parts)
    }

    /// A style is one picture: a clip given as a style is refused, with how to take a frame of
    /// it, rather than silently reduced to its first frame. Animated pictures (GIF, WebP, APNG)
    /// give their first frame.
    static func refuseClip(_ url: URL) throws {
        guard let demuxer = try? Demuxer(path: url.path) else { return }  // Picture says what is wrong
        let container = String(cString: demuxer.context.pointee.iformat.pointee.name)
        let pictures: Set<String> = ["image2", "gif", "webp", "apng"]
        guard !pictures.contains(container) && !container.hasSuffix("_pipe") else { return }
        // One picture in a video container (AVIF and HEIF come through MOV's demuxer).
        if let video = try? demuxer.bestVideoStream().index, demuxer.stream(video).pointee.nb_frames == 1 { return }
        throw StylizeError.badStyle("\(url.relativePath) is a clip, and a style is one picture: take the frame you want with "
                                    + "ffmpeg -ss SECONDS -i \(url.relativePath) -frames:v 1 style.png")
    }

    static func checkStyleSize(_ size: Int) throws {
        guard StylePredictor.sideRange.contains(size) else {
            throw StylizeError.invalidArgument("style size must be from \(StylePredictor.sideRange.lowerBound) to \(StylePredictor.sideRange.upperBound) pixels, got \(size)")
        }
    }
}
