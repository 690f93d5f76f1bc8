import Foundation

/// A point in the style space of Ghiasi et al. (2017): the 100 numbers the style predictor
/// gives for a picture, and the only thing the transformer knows about a style.
public struct StyleVector: Equatable, Sendable, Codable {
    /// Number of components in every style vector.
    public static let dimension = 100

    /// The 100 numbers.
    public let values: [Float]

    /// A vector of `values`; throws unless there are 100 finite numbers.
    public init(_ values: [Float]) throws {
        guard values.count == Self.dimension else {
            throw StylizeError.badStyle("a style vector has \(Self.dimension) numbers, this one has \(values.count)")
        }
        guard values.allSatisfy(\.isFinite) else {
            throw StylizeError.badStyle("a style vector holds only finite numbers")
        }
        self.values = values
    }

    /// For values already known to be 100 finite numbers (interpolations of vectors).
    init(unchecked values: [Float]) {
        self.values = values
    }

    /// The weighted sum of `parts`; weights are normalised to sum to 1.
    public static func mix(_ parts: [(vector: StyleVector, weight: Double)]) throws -> StyleVector {
        guard !parts.isEmpty else { throw StylizeError.badStyle("a mix needs at least one style") }
        guard parts.allSatisfy({ $0.weight >= 0 && $0.weight.isFinite }) else {
            throw StylizeError.badStyle("mix weights must be finite and not negative")
        }
        let total = parts.reduce(0) { $0 + $1.weight }
        guard total > 0 else { throw StylizeError.badStyle("mix weights add up to zero") }
        var sum = [Double](repeating: 0, count: dimension)
        for part in parts {
            for i in 0..<dimension { sum[i] += Double(part.vector.values[i]) * part.weight / total }
        }
        return try StyleVector(sum.map { Float($0) })
    }

    /// The strengths a style is applied at: 0 leaves the content as it is, 1 is the full style.
    public static let strengths: ClosedRange<Double> = 0...1

    /// Why `strength` is not one of `strengths`, naming it `name` ("strength", "--strength",
    /// "keyframe 2's strength"); nil when it is one. Every front end checks strengths here.
    public static func strengthProblem(_ strength: Double, name: String = "strength") -> String? {
        strengths.contains(strength) ? nil : "\(name) must be between 0 and 1, got \(strength)"
    }

    /// Throws `StylizeError.invalidArgument` unless `strength` is one of `strengths`.
    static func check(strength: Double, name: String = "strength") throws {
        if let problem = strengthProblem(strength, name: name) { throw StylizeError.invalidArgument(problem) }
    }

    /// `strength * self + (1 - strength) * identity`: how Magenta weakens a style, with
    /// `identity` the style vector of the content itself.
    public func blended(towards identity: StyleVector, strength: Double) throws -> StyleVector {
        try Self.check(strength: strength)
        if strength == 1 { return self }
        return try .mix([(self, strength), (identity, 1 - strength)])
    }

    /// Cosine similarity with `other`.
    public func cosine(_ other: StyleVector) -> Double {
        var dot = 0.0, a = 0.0, b = 0.0
        for (x, y) in zip(values, other.values) {
            dot += Double(x) * Double(y); a += Double(x) * Double(x); b += Double(y) * Double(y)
        }
        return dot / max((a * b).squareRoot(), .leastNormalMagnitude)
    }
}

/// The JSON file `stylize vector` writes and `-s FILE.json` reads: `{"vector": [100 numbers], ...}`.
public struct StyleVectorFile: Codable, Sendable {
    /// The 100 numbers.
    public var vector: [Float]
    /// Where the vector came from (a style image or a mix), for people reading the file.
    public var source: String?
    /// The model that computed it.
    public var model: String?

    /// The file for `vector`, with where it came from and the model that computed it.
    public init(vector: StyleVector, source: String?, model: String? = ModelStore.predictorFile) {
        self.vector = vector.values
        self.source = source
        self.model = model
    }

    /// The vector in the file at `url`; throws a `StylizeError` that names the file when it cannot
    /// be read or holds no valid vector.
    public static func read(_ url: URL) throws -> StyleVector {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FileManager.default.fileExists(atPath: url.path)
                ? StylizeError.unreadable(path: url.relativePath, reason: error.localizedDescription)
                : StylizeError.fileNotFound(url.relativePath)
        }
        return try parse(data, path: url.relativePath)
    }

    /// Parses the contents of a vector file found at `path`.
    public static func parse(_ data: Data, path: String) throws -> StyleVector {
        let file: StyleVectorFile
        do { file = try JSONDecoder().decode(StyleVectorFile.self, from: data) } catch {
            throw StylizeError.badStyle("\(path) is not a style vector file (a JSON object with a \"vector\" of \(StyleVector.dimension) numbers)")
        }
        do { return try StyleVector(file.vector) } catch let StylizeError.badStyle(message) {
            throw StylizeError.badStyle("\(path): \(message)")
        }
    }

    /// Writes the file atomically; an existing file is replaced only with `overwrite`.
    public func write(to url: URL, overwrite: Bool) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try OutputFile.write(try encoder.encode(self), to: url, overwrite: overwrite)
    }
}
