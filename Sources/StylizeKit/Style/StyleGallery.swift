import Foundation

/// Named styles that need no file at hand (`-s starry-night`): vectors that `stylize vector`
/// computed from public-domain paintings. The pictures, where each came from and why it may be
/// used are in `gallery/README.md`; `scripts/build-gallery` recomputes every vector from its
/// picture and checks it against the one recorded here.
public struct StyleGallery: Sendable {
    /// One named style.
    public struct Entry: Codable, Sendable, Equatable {
        /// What users type after `-s`: lower case, words joined by hyphens.
        public var name: String
        /// The painting's title.
        public var title: String
        /// Who painted it.
        public var artist: String
        /// When it was painted, as art historians date it ("c. 1830").
        public var year: String
        /// The picture the vector was computed from, in the repository's `gallery/pictures/`.
        public var picture: String
        /// The 100 numbers.
        public var vector: [Float]
    }

    /// The file `scripts/build-gallery` writes: `{"model": ..., "styles": [Entry, ...]}`.
    struct File: Codable {
        var model: String
        var styleSize: Int
        var styles: [Entry]
    }

    /// Entries in the order of the gallery file.
    public let entries: [Entry]
    private let vectors: [String: StyleVector]

    /// The gallery compiled into StylizeKit (`gallery/gallery.json`).
    public static let builtIn: StyleGallery = {
        do {
            return try StyleGallery(json: Data(galleryJSON.utf8))
        } catch {
            // The text is checked by the tests and by scripts/build-gallery; it cannot change at run time.
            preconditionFailure("the built-in gallery does not parse: \(error)")
        }
    }()

    init(json: Data) throws {
        let file = try JSONDecoder().decode(File.self, from: json)
        entries = file.styles
        var vectors: [String: StyleVector] = [:]
        for entry in file.styles { vectors[entry.name] = try StyleVector(entry.vector) }
        self.vectors = vectors
    }

    /// The names, in gallery order.
    public var names: [String] { entries.map(\.name) }

    /// The vector of the style called `name`, if the gallery has one.
    public func vector(named name: String) -> StyleVector? { vectors[name.lowercased()] }

    /// Names closest to `text` first, for "did you mean": styles whose artist or title holds it
    /// (letters only: "vangogh" finds Vincent van Gogh's), then by edit distance, then in
    /// gallery order; at least `count`, and every style that matches an artist or title.
    public func closestNames(to text: String, count: Int = 3) -> [String] {
        let key = Self.letters(text)
        let ranked = entries.enumerated().map { item in
            let named = key.count >= 3 && [item.element.artist, item.element.title].contains { Self.letters($0).contains(key) }
            return (named: named, distance: Self.editDistance(text.lowercased(), item.element.name), order: item.offset, name: item.element.name)
        }.sorted { ($0.named ? 0 : 1, $0.distance, $0.order) < ($1.named ? 0 : 1, $1.distance, $1.order) }
        return ranked.prefix(max(count, ranked.filter(\.named).count)).map(\.name)
    }

    /// Lowercase letters of `text`, accents dropped ("Père" -> "pere").
    static func letters(_ text: String) -> String {
        String(text.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).lowercased().filter { $0.isLetter })
    }

    /// Levenshtein distance between `a` and `b`, by characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension StyleSpec.Part {
    /// Where a part's vector comes from. A file wins over a gallery name, so a user's own file
    /// is never shadowed (`shadowsGalleryStyle` says when that happened).
    public enum Source: Equatable, Sendable {
        /// A picture, run through the style predictor.
        case picture(URL)
        /// A vector file written by `stylize vector` (`StyleVectorFile`).
        case vectorFile(URL)
        /// A gallery style, by name.
        case gallery(String)
    }

    /// Resolves the part against the file system and `gallery`.
    public func source(in gallery: StyleGallery = .builtIn) throws -> Source {
        if FileManager.default.fileExists(atPath: path) {
            let url = URL(fileURLWithPath: path)
            return isVectorFile ? .vectorFile(url) : .picture(url)
        }
        if gallery.vector(named: path) != nil { return .gallery(path.lowercased()) }
        // A bare word (no folder, no extension) was meant as a gallery name.
        if !path.contains("/") && !path.contains(".") {
            throw StylizeError.badStyle("\(path) is neither a file nor a gallery style; closest gallery styles: \(gallery.closestNames(to: path).joined(separator: ", "))")
        }
        throw StylizeError.fileNotFound(path)
    }

    /// Whether the part names a file that has the name of a gallery style too (the file is used).
    public func shadowsGalleryStyle(in gallery: StyleGallery = .builtIn) -> Bool {
        gallery.vector(named: path) != nil && FileManager.default.fileExists(atPath: path)
    }
}
