import Foundation

/// A style as users write it: a picture, a vector file (`.json`), or a weighted mix of them,
/// `a.jpg:0.7,b.json:0.3`. Weights default to 1 and are normalised to sum to 1.
public struct StyleSpec: Equatable, Sendable, CustomStringConvertible {
    /// One source of a mix.
    public struct Part: Equatable, Sendable {
        public var path: String
        public var weight: Double
        /// Whether the part names a vector file rather than a picture.
        public var isVectorFile: Bool { path.lowercased().hasSuffix(".json") }
    }

    public var parts: [Part]

    /// Parses the grammar above. A part's weight is the number after its last `:`; a part whose
    /// text after the last `:` is not a number is a path with weight 1.
    public init(parsing text: String) throws {
        let pieces = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw StylizeError.badStyle("the style is empty") }
        parts = try pieces.map { piece in
            guard !piece.isEmpty else { throw StylizeError.badStyle("empty entry in \"\(text)\"") }
            if let colon = piece.lastIndex(of: ":"), let weight = Double(piece[piece.index(after: colon)...]) {
                let path = String(piece[..<colon])
                guard !path.isEmpty else { throw StylizeError.badStyle("\"\(piece)\" has a weight but no file") }
                guard weight.isFinite, weight >= 0 else { throw StylizeError.badStyle("weight \(weight) of \(path) is negative or not finite") }
                return Part(path: path, weight: weight)
            }
            return Part(path: piece, weight: 1)
        }
        guard parts.reduce(0, { $0 + $1.weight }) > 0 else { throw StylizeError.badStyle("the weights in \"\(text)\" add up to zero") }
    }

    public var description: String {
        parts.count == 1 && parts[0].weight == 1 ? parts[0].path : parts.map { "\($0.path):\($0.weight)" }.joined(separator: ",")
    }
}

extension Stylizer {
    /// The style vector of any picture, prepared as Magenta does: the centred square, resized
    /// to 256x256 with area averaging.
    public func styleVector(for picture: Picture) throws -> StyleVector {
        let side = StylePredictor.inputSize
        return try predictor.vector(for: picture.centreSquare.resized(width: side, height: side).rgbImage)
    }

    /// The vector a spec stands for: each picture through the style predictor, each vector file
    /// read, then the weighted mix.
    public func styleVector(for spec: StyleSpec) throws -> StyleVector {
        let parts = try spec.parts.map { part -> (vector: StyleVector, weight: Double) in
            let url = URL(fileURLWithPath: part.path)
            guard FileManager.default.fileExists(atPath: url.path) else { throw StylizeError.fileNotFound(part.path) }
            if part.isVectorFile { return (try StyleVectorFile.read(url), part.weight) }
            do {
                return (try styleVector(for: Picture(contentsOf: url)), part.weight)
            } catch StylizeError.unreadable(let path, let reason) {
                throw StylizeError.badStyle("\(path) is neither a picture nor a .json vector file (\(reason))")
            }
        }
        return try StyleVector.mix(parts)
    }
}
