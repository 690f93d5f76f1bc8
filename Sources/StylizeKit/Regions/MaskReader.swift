import CFFmpeg
import Foundation

/// The masks a job reads, in the order its frames come: from a picture (the same one for every
/// frame), a clip (the mask frame shown at the frame's time), a frame sequence (the mask with
/// the frame's index), or a caller's feed. Masks come as they are stored; `MaskMaker` scales
/// them to the output. A clip or sequence that ends before the input holds its last mask, and
/// says so once in `notes`.
final class MaskReader {
    private enum Kind {
        case clip(VideoReader, timeBase: AVRational)
        case sequence([URL])
        case supplied(MaskFeed)
    }

    private let kind: Kind
    private let name: String
    /// The mask frame shown now, and when it starts.
    private var current: (frame: Frame, seconds: Double)?
    /// The clip's next mask frame, read ahead.
    private var upcoming: (frame: Frame, seconds: Double)?
    /// The seconds between the clip's last two mask frames (how long the last one lasts).
    private var lastInterval = 0.0
    private var sequenceFrame: (index: Int, frame: Frame)?
    /// What a job's summary should say about the masks.
    private(set) var notes: [String] = []

    /// Opens the masks `source` names; throws a one-line error when it is not a picture, clip
    /// or frame sequence that holds a frame. Nil for masks made from each frame (keys).
    init?(_ source: MaskSource) throws {
        switch source {
        case .key, .luma: return nil
        case .supplied(let feed):
            kind = .supplied(feed)
            name = "the supplied masks"
        case .file(let url):
            name = url.displayPath
            if let files = try Self.sequenceFiles(name) {
                guard !files.isEmpty else { throw StylizeError.unreadable(path: name, reason: "the mask sequence has no pictures") }
                kind = .sequence(files)
            } else {
                let reader = try Self.open(name)
                kind = .clip(reader, timeBase: reader.timeBase)
                upcoming = try nextClipFrame()
                guard upcoming != nil else { throw StylizeError.unreadable(path: name, reason: "the mask has no video frames") }
            }
        }
    }

    /// The mask for the frame with `index` among those read, at `seconds` on the source's timeline.
    func mask(index: Int, seconds: Double) throws -> Frame {
        switch kind {
        case .supplied(let feed): return try Self.frame(from: feed.mask(index, seconds))
        case .sequence(let files): return try sequenceMask(index, files: files)
        case .clip: return try clipMask(at: seconds)
        }
    }

    /// The clip's frame shown at `seconds`: the last one that starts by then (within a
    /// millisecond, against rounding in time bases); the first before it starts.
    private func clipMask(at seconds: Double) throws -> Frame {
        while let next = upcoming, next.seconds <= seconds + 0.001 || current == nil {
            if let current { lastInterval = next.seconds - current.seconds }
            current = next
            upcoming = try nextClipFrame()
        }
        let shown = current!
        if upcoming == nil, notes.isEmpty, lastInterval > 0, seconds >= shown.seconds + lastInterval - 0.001 {
            notes.append(String(format: "the mask %@ ends at %.3f s; its last frame holds after that", name, shown.seconds + lastInterval))
        }
        return shown.frame
    }

    private func sequenceMask(_ index: Int, files: [URL]) throws -> Frame {
        let wanted = min(index, files.count - 1)
        if index >= files.count, notes.isEmpty {
            notes.append("the mask sequence \(name) has \(files.count) pictures; its last holds after that")
        }
        if let sequenceFrame, sequenceFrame.index == wanted { return sequenceFrame.frame }
        let reader = try Self.open(files[wanted].displayPath)
        guard case .frame(let frame, _)? = try Self.firstFrame(reader) else {
            throw StylizeError.unreadable(path: files[wanted].displayPath, reason: "the mask picture has no frame")
        }
        sequenceFrame = (wanted, frame)
        return frame
    }

    private func nextClipFrame() throws -> (frame: Frame, seconds: Double)? {
        guard case .clip(let reader, let timeBase) = kind else { return nil }
        guard case .frame(let frame, let pts)? = try Self.firstFrame(reader) else { return nil }
        return (frame, Double(pts) * av_q2d(timeBase))
    }

    private static func firstFrame(_ reader: VideoReader) throws -> VideoInputItem? {
        while let item = try reader.next() {
            if case .frame = item { return item }
        }
        return nil
    }

    /// A mask file as FFmpeg opens it, with a one-line error for one it cannot.
    private static func open(_ path: String) throws -> VideoReader {
        guard FileManager.default.fileExists(atPath: path) else { throw StylizeError.fileNotFound(path) }
        do {
            return try VideoReader(path: path, formatName: nil, start: nil, duration: nil, decodingThreads: { _, _ in 1 })
        } catch {
            throw StylizeError.unreadable(path: path, reason: "not a picture, clip or frame sequence that FFmpeg reads as a mask")
        }
    }

    /// The files of a frame folder or pattern, or nil when `path` names a single file.
    private static func sequenceFiles(_ path: String) throws -> [URL]? {
        var isDirectory: ObjCBool = false
        let isFile = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        guard !isFile, let sequence = try? FrameSequence(path) else { return nil }
        return try sequence.files()
    }

    /// A caller's mask as an 8-bit grey frame.
    static func frame(from mask: RegionMask) throws -> Frame {
        let frame = try Frame(width: mask.width, height: mask.height, format: AV_PIX_FMT_GRAY8)
        let stride = Int(frame.pointer.pointee.linesize.0)
        let base = frame.pointer.pointee.data.0!
        mask.values.withUnsafeBufferPointer { values in
            for y in 0..<mask.height {
                (base + y * stride).update(from: values.baseAddress! + y * mask.width, count: mask.width)
            }
        }
        frame.pointer.pointee.color_range = AVCOL_RANGE_JPEG
        return frame
    }
}
