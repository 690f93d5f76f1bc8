import Foundation

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

extension Stylizer {
    /// Turns keyframe specs into a timeline, computing every keyframe's vector once (style
    /// pictures at `styleSize`).
    public func timeline(_ specs: [KeyframeSpec], easing: Easing, styleSize: Int = StylePredictor.inputSize) throws -> StyleTimeline {
        try Self.timeline(specs, easing: easing) { try styleVector(for: $0, styleSize: styleSize) }
    }

    /// Turns keyframe specs into a timeline, asking `vector` once for each distinct style.
    static func timeline(_ specs: [KeyframeSpec], easing: Easing, vector: (StyleSpec) throws -> StyleVector) throws -> StyleTimeline {
        var cache: [String: StyleVector] = [:]
        let keys = try specs.map { spec -> StyleTimeline.Key in
            let vector = try cache[spec.style.description] ?? vector(spec.style)
            cache[spec.style.description] = vector
            return StyleTimeline.Key(time: spec.time, vector: vector, strength: spec.strength)
        }
        return try StyleTimeline(keys: keys, easing: easing)
    }
}
