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
    /// Whether the file is a single picture (not a clip), whose alpha counts only where it is used.
    private var picture = false
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
                picture = Self.isPicture(reader)
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
        let mask = try Self.droppingOpaqueAlpha(frame)
        sequenceFrame = (wanted, mask)
        return mask
    }

    private func nextClipFrame() throws -> (frame: Frame, seconds: Double)? {
        guard case .clip(let reader, let timeBase) = kind else { return nil }
        guard case .frame(let frame, let pts)? = try Self.firstFrame(reader) else { return nil }
        return (picture ? try Self.droppingOpaqueAlpha(frame) : frame, Double(pts) * av_q2d(timeBase))
    }

    /// Whether FFmpeg reads `reader`'s file as a single picture (its image demuxers).
    private static func isPicture(_ reader: VideoReader) -> Bool {
        guard let format = reader.demuxer.context.pointee.iformat?.pointee.name.map({ String(cString: $0) }) else { return false }
        return format == "image2" || format.hasSuffix("_pipe")
    }

    /// A mask picture whose alpha is opaque everywhere says nothing with it (many tools save a
    /// black-and-white mask with an alpha channel they never use): it comes back without its
    /// alpha, so that its brightness decides, as for a picture with no alpha. Others come back as
    /// they are. A clip's frames keep their alpha, opaque or not: a matte may cover a whole frame.
    static func droppingOpaqueAlpha(_ frame: Frame) throws -> Frame {
        guard let descriptor = av_pix_fmt_desc_get(frame.format), descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_ALPHA) != 0,
              frame.format != AV_PIX_FMT_PAL8 else { return frame }
        let alpha = Int32(descriptor.pointee.nb_components) - 1
        let depth = withUnsafeBytes(of: descriptor.pointee.comp) { $0.bindMemory(to: AVComponentDescriptor.self)[Int(alpha)].depth }
        let opaque = UInt16((1 << depth) - 1)
        let (width, height) = (frame.width, frame.height)
        var row = [UInt16](repeating: 0, count: width)
        var planes = (frame.planes.map { $0.map { UnsafePointer($0) } } + [nil, nil, nil, nil]).prefix(4).map { $0 }
        var strides = (frame.strides + [0, 0, 0, 0]).prefix(4).map { $0 }
        let everywhere = (0..<height).allSatisfy { y in
            av_read_image_line2(&row, &planes, &strides, descriptor, 0, Int32(y), alpha, Int32(width), 0, 2)
            return row.allSatisfy { $0 == opaque }
        }
        guard everywhere else { return frame }
        return try FilterGraph(width: width, height: height, format: frame.format, description: "null", outputFormat: AV_PIX_FMT_GBRP).filter(frame)
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
