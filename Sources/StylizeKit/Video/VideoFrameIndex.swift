import CFFmpeg
import Foundation

/// The video frames of a file in presentation order, read from its packets (demuxed, not
/// decoded): how `--frames A..B` finds frame A and the keyframe before it, and how `join`
/// checks that pieces cover every frame once. Frame N is the N-th frame a single-process job
/// would stylize (one frame per packet, as in MP4, MOV, Matroska and NUT).
struct VideoFrameIndex {
    /// Presentation timestamps in the video stream's time base, ascending.
    let timestamps: [Int64]
    /// Positions in `timestamps` of the frames that start a keyframe packet.
    let keyframes: [Int]
    let timeBase: AVRational
    /// Whether the whole file was read (otherwise `timestamps` may stop early).
    let complete: Bool
    /// The stream's nominal frame rate (0/0 when the file does not tell) and picture size.
    let frameRate: AVRational
    let width: Int, height: Int

    /// Packets a decoder may hold back before presenting: frames after this many more packets
    /// cannot come before the ones seen. H.264 and HEVC reorder at most 16.
    static let reorderMargin = 32

    init(timestamps: [Int64], keyframes: [Int], timeBase: AVRational) {
        self.timestamps = timestamps
        self.keyframes = keyframes
        self.timeBase = timeBase
        complete = true
        (frameRate, width, height) = (AVRational(num: 0, den: 0), 0, 0)
    }

    /// Reads the video packets of `path`, stopping once frame `frames - 1` is surely known
    /// (after `frames` + `reorderMargin` packets), or at the end when `frames` is nil.
    init(path: String, formatName: String? = nil, through frames: Int? = nil) throws {
        let demuxer = try Demuxer(path: path, formatName: formatName)
        let (video, _) = try demuxer.bestVideoStream()
        for index in 0..<Int(demuxer.context.pointee.nb_streams) where Int32(index) != video {
            // Other streams' packets are skipped without being read where the demuxer can.
            demuxer.stream(Int32(index)).pointee.discard = AVDISCARD_ALL
        }
        let stream = demuxer.stream(video)
        timeBase = stream.pointee.time_base
        frameRate = av_guess_frame_rate(demuxer.context, stream, nil)
        (width, height) = (Int(stream.pointee.codecpar.pointee.width), Int(stream.pointee.codecpar.pointee.height))
        let packet = try Packet()
        var stamps: [(ts: Int64, key: Bool)] = []
        let limit = frames.map { $0 + Self.reorderMargin }
        var complete = true
        while try demuxer.read(into: packet) {
            defer { packet.unref() }
            let p = packet.pointer.pointee
            guard p.stream_index == video else { continue }
            let ts = p.pts != cffmpeg_nopts_value() ? p.pts : p.dts
            guard ts != cffmpeg_nopts_value() else { continue }
            stamps.append((ts, p.flags & AV_PKT_FLAG_KEY != 0))
            if let limit, stamps.count >= limit { complete = false; break }
        }
        stamps.sort { $0.ts < $1.ts }
        // A repeated timestamp is one frame for the decoding side too (the reader drops repeats).
        var unique: [(ts: Int64, key: Bool)] = []
        for stamp in stamps {
            if let last = unique.last, last.ts == stamp.ts { unique[unique.count - 1].key = last.key || stamp.key } else { unique.append(stamp) }
        }
        timestamps = unique.map(\.ts)
        keyframes = unique.indices.filter { unique[$0].key }
        self.complete = complete
    }

    var count: Int { timestamps.count }

    /// The last keyframe at or before frame `frame` (0 when none is flagged).
    func keyframe(atOrBefore frame: Int) -> Int {
        keyframes.last { $0 <= frame } ?? 0
    }
}

/// "A..B" with 0 <= A < B as the frames A to B-1: how `--frames` and a piece's metadata write a
/// range.
package func parseFrameRange(_ text: String) -> Range<Int>? {
    let parts = text.components(separatedBy: "..")
    guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a < b else { return nil }
    return a..<b
}

/// Which decoded frames a piece job keeps, as presentation timestamps in the video stream's
/// time base: frames from `decodeFrom` on are stylized, those before `firstWritten` only warm
/// up the stabilizer, and the job stops at `end` (exclusive; nil runs to the end of the file).
struct FrameWindow {
    var decodeFrom: Int64
    var firstWritten: Int64
    var end: Int64?
}

/// What a driver that splits a clip into pieces needs to know of it (`stylize probe`).
package struct ClipLayout: Sendable, Codable {
    /// Video frames, counted as `JobOptions.frames` counts them.
    public var frames: Int
    /// Frame numbers that are keyframes: pieces starting there decode nothing they drop.
    public var keyframes: [Int]
    /// The nominal frame rate (frames per second), 0 when the file does not tell.
    public var frameRate: Double
    /// Seconds from the first frame to the end of the last.
    public var seconds: Double
    public var width: Int
    public var height: Int
    /// Every frame's presentation timestamp in `timeBase` (with `withTimestamps`): given to
    /// pieces (`JobOptions.layout`), it spares each of them a scan of the file's packets.
    public var timestamps: [Int64]?
    /// The video stream's time base, numerator and denominator.
    public var timeBase: [Int32]?
    /// Size and modification time (seconds since 1970) of the file when it was probed: a
    /// layout is refused for a file that has changed since.
    public var fileSize: Int64?
    public var modified: Double?

    public init(of path: String, withTimestamps: Bool = false) throws {
        let index = try VideoFrameIndex(path: path)
        let rate = index.frameRate
        frames = index.count
        keyframes = index.keyframes
        frameRate = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0
        let span = Double((index.timestamps.last ?? 0) - (index.timestamps.first ?? 0)) * av_q2d(index.timeBase)
        seconds = index.count == 0 ? 0 : span + (frameRate > 0 ? 1 / frameRate : 0)
        (width, height) = (index.width, index.height)
        if withTimestamps {
            timestamps = index.timestamps
            timeBase = [index.timeBase.num, index.timeBase.den]
            (fileSize, modified) = try Self.fileStamp(path)
        }
    }

    static func fileStamp(_ path: String) throws -> (Int64, Double) {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (Int64((attributes[.size] as? NSNumber)?.int64Value ?? -1),
                (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
    }

    /// The frame index this layout records for `path`, refused when the file changed since.
    func frameIndex(for path: String) throws -> VideoFrameIndex {
        guard let timestamps, let timeBase, timeBase.count == 2, timeBase[1] > 0, timestamps.count == frames,
              let fileSize, let modified else {
            throw StylizeError.invalidArgument("the frame layout has no timestamps")
        }
        let (size, time) = try Self.fileStamp(path)
        guard size == fileSize, abs(time - modified) < 1e-3 else {
            throw StylizeError.invalidArgument("\(path) has changed since its frame layout was written: probe it again")
        }
        return VideoFrameIndex(timestamps: timestamps, keyframes: keyframes, timeBase: AVRational(num: timeBase[0], den: timeBase[1]))
    }
}
