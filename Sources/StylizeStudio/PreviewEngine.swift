import Foundation
import StylizeKit

/// Pictures for the page: source frames at any time, and one frame stylized with the page's
/// settings. What repeats while a user moves a slider is cached: the input's description, the
/// last few decoded frames, style vectors and the input's own vector. Every method blocks;
/// the server calls them off its event loops.
final class PreviewEngine: @unchecked Sendable {
    let stylizer: Stylizer
    let root: StudioRoot
    /// Guards the caches.
    private let lock = NSLock()
    /// Guards the worker (the server already runs one preview at a time, `LatestOnly`), so that
    /// frames and vectors can be served while a preview is painted.
    private let workerLock = NSLock()
    /// Per input: its file's (or folder's) modification time, what it holds, and for a frame
    /// folder its pictures in order.
    private var infos: [String: (stamp: Date, info: MediaInfo, pictures: [URL])] = [:]
    private var frames: [(key: String, picture: Picture)] = []
    private var vectors: [String: StyleVector] = [:]
    private var identities: [String: StyleVector] = [:]
    private var worker: TransformerWorker?
    private static let framesKept = 6

    init(stylizer: Stylizer, root: StudioRoot) {
        self.stylizer = stylizer
        self.root = root
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// What the input at `path` (relative to the root) holds, re-read when the file changes; a
    /// frame folder shown at `frameRate` frames a second (nil: 30).
    func info(_ path: String, frameRate: Double? = nil) throws -> MediaInfo {
        try described(path, frameRate: frameRate).info
    }

    /// The input's description, read again when its file (or, for a frame folder, the folder)
    /// changes.
    private func described(_ path: String, frameRate: Double? = nil) throws -> (info: MediaInfo, pictures: [URL]) {
        let url = try root.resolve(path)
        let stamp = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
        var known = locked({ infos[url.path] }).flatMap { $0.stamp == stamp ? $0 : nil }
        if known == nil {
            let info = try MediaInfo(of: url)
            let pictures = info.kind == .frames ? try FrameSequence(url.path).files() : []
            locked { infos[url.path] = (stamp, info, pictures) }
            known = (stamp, info, pictures)
        }
        var (_, info, pictures) = known!
        if info.kind == .frames, let frameRate {
            info.frameRate = frameRate
            info.duration = Double(info.frames) / frameRate
        }
        return (info, pictures)
    }

    /// The input's frame at `seconds` as a player shows it (a clip's display rotation applied).
    func sourceFrame(_ path: String, at seconds: Double, frameRate: Double? = nil) throws -> Picture {
        try storedFrame(path, at: seconds, frameRate: frameRate).rotated(clockwise: info(path).rotation)
    }

    /// The input's frame at `seconds`, at its own size and as stored: for a clip the frame shown
    /// then (times past the last frame give the last frame), for a frame folder the picture of
    /// that index.
    private func storedFrame(_ path: String, at seconds: Double, frameRate: Double? = nil) throws -> Picture {
        let (info, pictures) = try described(path, frameRate: frameRate)
        guard seconds.isFinite, seconds >= 0, seconds <= info.duration + 1e-6 else {
            throw StudioError.badRequest(String(format: "time %.3f s is outside the input (0 to %.3f s)", seconds, info.duration))
        }
        let url = try root.resolve(path)
        let key = "\(url.path)@\(Int((seconds * 1000).rounded()))/\(info.frameRate)"
        if let hit = locked({ frames.first { $0.key == key }?.picture }) { return hit }
        let picture: Picture
        switch info.kind {
        case .picture:
            picture = try Picture(contentsOf: url)
        case .frames:
            picture = try Picture(contentsOf: pictures[min(pictures.count - 1, Int(seconds * info.frameRate))])
        case .clip:
            // The last frame starts one frame before the end.
            let last = max(0, info.duration - 1 / max(info.frameRate, 1))
            picture = try Picture(clip: url, at: min(seconds, last))
        }
        locked {
            frames.removeAll { $0.key == key }
            frames.append((key, picture))
            if frames.count > Self.framesKept { frames.removeFirst() }
        }
        return picture
    }

    /// The vector of `spec` (its files resolved under the root) at `styleSize`, kept for
    /// later previews and renders.
    func vector(_ spec: StyleSpec, styleSize: Int) throws -> StyleVector {
        let key = "\(spec.description)#\(styleSize)"
        if let known = locked({ vectors[key] }) { return known }
        let vector = try stylizer.styleVector(for: spec, styleSize: styleSize)
        locked { vectors[key] = vector }
        return vector
    }

    /// `job`'s style over time, its vectors from those kept.
    func timeline(_ job: StylizeJob) throws -> StyleTimeline {
        try job.timeline(with: stylizer, vectors: vector)
    }

    /// The input's own style vector, which a strength below 1 blends towards: for a clip the
    /// mean over frames spread across it (as `stylize video` computes it), else the picture's
    /// or the first frame's.
    func identity(_ path: String) throws -> StyleVector {
        let url = try root.resolve(path)
        if let known = locked({ identities[url.path] }) { return known }
        let vector: StyleVector
        switch try info(path).kind {
        case .clip: vector = try VideoStylizer(stylizer: stylizer).identityVector(of: url)
        case .picture, .frames: vector = try stylizer.styleVector(for: sourceFrame(path, at: 0))
        }
        locked { identities[url.path] = vector }
        return vector
    }

    /// The input's frame at `settings.time`, stylized as a render would paint it (the network
    /// at the brush scale, on the frame as stored), turned as a player shows it and scaled to
    /// `settings.width` pixels across.
    func preview(_ settings: StudioSettings) throws -> Picture {
        try settings.validate()
        let seconds = settings.time ?? 0
        let info = try info(settings.path, frameRate: settings.fps)
        let source = try storedFrame(settings.path, at: seconds, frameRate: settings.fps)
        let frameRate = info.frameRate > 0 ? info.frameRate : 30
        let url = try root.resolve(settings.path)
        let job = try RenderPlan.job(settings, kind: info.kind, input: url, output: url, frameRate: frameRate, root: root)
        let timeline = try timeline(job)
        var outsideIsWeakened = false
        if case .style(_, let strength)? = job.regions?.outside { outsideIsWeakened = strength < 1 }
        let identity = timeline.needsIdentity || outsideIsWeakened ? try identity(settings.path) : nil
        workerLock.lock()
        defer { workerLock.unlock() }
        let precision = stylizer.transformer.resolve(settings.precision ?? .auto)
        if worker?.precision != precision { worker = try stylizer.makeWorker(precision: precision) }
        var painted = try job.paint(source, at: seconds, timeline: timeline, frameRate: frameRate, identity: identity, stylizer: stylizer, worker: worker!,
                                    atNetworkSize: true, vectors: vector)
        if settings.maskOverlay == true, let mask = try job.regionMask(for: source.resized(width: painted.width, height: painted.height),
                                                                      at: seconds, frameRate: frameRate) {
            painted = Self.tinted(painted, outside: mask)
        }
        return try Self.scaled(painted.rotated(clockwise: info.rotation), width: settings.width ?? 640)
    }

    /// `picture` with what `mask` leaves out tinted red, in proportion, to show where the style goes.
    static func tinted(_ picture: Picture, outside mask: RegionMask) -> Picture {
        var samples = picture.samples
        for i in 0..<(picture.width * picture.height) {
            let out = Double(255 - mask.values[i]) / 255 * 0.55
            let tint: [Double] = [65535, 8000, 8000]
            for c in 0..<3 { samples[i * 3 + c] = UInt16((Double(samples[i * 3 + c]) * (1 - out) + tint[c] * out).rounded()) }
        }
        return Picture(width: picture.width, height: picture.height, samples: samples)
    }

    /// A picture scaled to `width` pixels across, keeping its shape.
    static func scaled(_ picture: Picture, width: Int) throws -> Picture {
        guard width != picture.width else { return picture }
        let height = max(1, Int((Double(picture.height) * Double(width) / Double(picture.width)).rounded()))
        return try picture.resized(width: width, height: height)
    }
}

/// Runs at most one call at a time, and drops a call that waited while a newer one arrived:
/// while a slider moves, only the latest preview is painted.
actor LatestOnly {
    private var newest = 0
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// `body`'s result, or nil when a newer call came in before this one's turn.
    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        newest += 1
        let ticket = newest
        while busy { await withCheckedContinuation { waiting.append($0) } }
        guard ticket == newest else { return nil }
        busy = true
        defer {
            busy = false
            let woken = waiting
            waiting = []
            woken.forEach { $0.resume() }
        }
        return try await body()
    }
}
