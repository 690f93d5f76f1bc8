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
