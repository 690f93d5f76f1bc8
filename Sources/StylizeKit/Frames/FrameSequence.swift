import Foundation

/// The frames of an image sequence: a folder (every picture in it), a glob (`cam/*.jpg`) or a
/// printf pattern (`cam_%05d.jpg`), in natural order (frame2 before frame10).
public struct FrameSequence: Sendable {
    /// What the user named.
    public enum Kind: Sendable, Equatable {
        /// Every picture in a folder.
        case folder(URL)
        /// The files a glob matches (`cam/*.jpg`).
        case glob(String)
        /// The files a printf pattern numbers (`cam_%05d.jpg`).
        case pattern(String)
    }

    /// Which of the three the text named.
    public let kind: Kind

    /// Extensions of the pictures a folder listing picks up.
    public static let pictureExtensions: Set<String> = ["png", "jpg", "jpeg", "webp", "bmp", "pgm", "ppm", "pnm", "pbm", "tif", "tiff"]

    /// The sequence `text` names: an existing folder, else a pattern when it holds a printf
    /// conversion (`%05d`), else a glob when it holds `*`, `?` or `[`. Throws when it names a
    /// single file or nothing that exists.
    public init(_ text: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue {
            kind = .folder(URL(fileURLWithPath: text))
        } else if text.range(of: #"%0?\d*d"#, options: .regularExpression) != nil {
            kind = .pattern(text)
        } else if text.contains(where: { "*?[".contains($0) }) {
            kind = .glob(text)
        } else if FileManager.default.fileExists(atPath: text) {
            throw StylizeError.invalidArgument("\(text) is a single file, not a frame sequence: read it as a picture or a clip")
        } else {
            throw StylizeError.fileNotFound(text)
        }
    }

    /// Natural order: runs of digits compare as numbers.
    public static func naturalOrder(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric]) == .orderedAscending
    }

    /// The frames present now, in order.
    public func files() throws -> [URL] {
        switch kind {
        case .folder(let folder):
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { !$0.hasPrefix(".") && Self.pictureExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            return names.sorted(by: Self.naturalOrder).map { folder.appendingPathComponent($0) }
        case .glob(let text):
            var matches = glob_t()
            defer { globfree(&matches) }
            guard glob(text, 0, nil, &matches) == 0 else { return [] }
            let paths = (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }
            return paths.sorted(by: Self.naturalOrder).map { URL(fileURLWithPath: $0) }
        case .pattern(let text):
            // Every file the pattern matches, in numeric order; a gap in the numbering is
            // skipped over, not an end.
            let url = URL(fileURLWithPath: text)
            let folder = url.deletingLastPathComponent()
            guard let regex = try? NSRegularExpression(pattern: Self.regex(forPattern: url.lastPathComponent)),
                  let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
            let numbered = names.compactMap { name -> (Int, String)? in
                let range = NSRange(name.startIndex..., in: name)
                guard let match = regex.firstMatch(in: name, range: range), let digits = Range(match.range(at: 1), in: name),
                      let number = Int(name[digits]) else { return nil }
                return (number, name)
            }
            return numbered.sorted { $0.0 < $1.0 }.map { folder.appendingPathComponent($0.1) }
        }
    }

    /// A printf file-name pattern (`cam_%05d.jpg`) as an anchored regular expression whose
    /// first group is the number.
    static func regex(forPattern name: String) -> String {
        var regex = "^"
        var rest = Substring(name)
        // Only "%d" and "%0Nd" are numbers; any other "%" stands for itself.
        while let percent = rest.firstIndex(of: "%") {
            regex += NSRegularExpression.escapedPattern(for: String(rest[..<percent]))
            let digits = rest[rest.index(after: percent)...].prefix { $0.isASCII && $0.isNumber }
            let end = digits.endIndex
            guard end < rest.endIndex, rest[end] == "d", digits.count <= 3 else {
                regex += "%"
                rest = rest[rest.index(after: percent)...]
                continue
            }
            let width = Int(digits) ?? 0
            regex += width > 0 && digits.first == "0" ? "([0-9]{\(width)})" : "([0-9]+)"
            rest = rest[rest.index(after: end)...]
        }
        return regex + NSRegularExpression.escapedPattern(for: String(rest)) + "$"
    }

    /// Where the frames' folder is, for watching.
    var folder: URL? {
        switch kind {
        case .folder(let url): return url
        case .glob(let text), .pattern(let text): return URL(fileURLWithPath: text).deletingLastPathComponent()
        }
    }
}

/// One frame of a sequence: its file, and the picture when it was already decoded.
struct SequenceFrame {
    var url: URL
    var picture: Picture?

    /// The picture, decoding the file if that has not happened yet.
    func load() throws -> Picture { try picture ?? Picture(contentsOf: url) }
}

/// Hands out a sequence's frames; in watch mode, also the ones that appear later, each once it
/// is complete, until stopped or idle for `idleExit` seconds. A file counts as complete when
/// its size and modification time have not changed for `settle` seconds and it decodes; one
/// that does not decode is tried again when it changes, and skipped (with a message) if it
/// stays broken for `giveUp` seconds.
final class FrameFeed {
    private let sequence: FrameSequence
    private let watch: Bool
    private let idleExit: Double?
    private let settle: Double
    private let poll: Double
    private let giveUp: Double
    private var seen = Set<String>()
    private var queue: [SequenceFrame] = []
    /// Size and modification time of files not yet handed out, since when they were so, and
    /// whether they failed to decode as they are.
    private var candidates: [String: (size: Int, modified: Date, since: Date, broken: Bool)] = [:]
    private var lastNew = Date()

    init(_ sequence: FrameSequence, watch: Bool, idleExit: Double?, settle: Double = 0.5, poll: Double = 0.1, giveUp: Double = 10) {
        self.sequence = sequence
        self.watch = watch
        self.idleExit = idleExit
        self.settle = settle
        self.poll = poll
        self.giveUp = giveUp
    }

    /// The next frame, or nil when there are no more (not watching: the listing is done;
    /// watching: idle too long, or `shouldStop` said so).
    func next(shouldStop: () -> Bool) throws -> SequenceFrame? {
        precondition(watch, "a sequence that is not watched is listed once, with FrameSequence.files()")
        while true {
            if !queue.isEmpty { return queue.removeFirst() }
            if shouldStop() { return nil }
            try scan()
            if queue.isEmpty {
                if let idleExit, Date().timeIntervalSince(lastNew) >= idleExit { return nil }
                Thread.sleep(forTimeInterval: poll)
            }
        }
    }

    /// Moves frames that have settled and decode into the queue, in natural order.
    private func scan() throws {
        let now = Date()
        var settled: [URL] = []
        for url in try sequence.files() where !seen.contains(url.path) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                  let size = (attributes[.size] as? NSNumber)?.intValue,
                  let modified = attributes[.modificationDate] as? Date else { continue }
            if let known = candidates[url.path], known.size == size, known.modified == modified {
                if known.broken {
                    if now.timeIntervalSince(known.since) >= giveUp {
                        FileHandle.standardError.write(Data("stylize: skipped \(url.path): it does not decode\n".utf8))
                        seen.insert(url.path)
                        candidates[url.path] = nil
                    }
                } else if size > 0 && now.timeIntervalSince(known.since) >= settle && now.timeIntervalSince(modified) >= settle {
                    settled.append(url)
                }
            } else {
                candidates[url.path] = (size, modified, now, false)
            }
        }
        for url in settled.sorted(by: { FrameSequence.naturalOrder($0.path, $1.path) }) {
            guard let picture = try? Picture(contentsOf: url) else {
                // Probably still being written by a writer that paused: wait for it to change.
                candidates[url.path]?.broken = true
                continue
            }
            seen.insert(url.path)
            candidates[url.path] = nil
            queue.append(SequenceFrame(url: url, picture: picture))
            lastNew = now
        }
    }
}
