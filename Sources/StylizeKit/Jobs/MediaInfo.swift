import CFFmpeg
import Foundation

/// What an input holds, as a tool choosing between `image`, `video` and `frames` needs to know:
/// one picture, a clip, or a folder of pictures (a frame sequence).
public struct MediaInfo: Sendable, Codable, Equatable {
    /// What kind of input it is.
    public enum Kind: String, Sendable, Codable {
        /// One picture.
        case picture
        /// A video clip.
        case clip
        /// A folder of pictures: a frame sequence.
        case frames
    }

    /// A picture, a clip or a frame sequence.
    public var kind: Kind
    /// The size a player shows: for a clip turned by `rotation`, the stored frames' sides swap.
    public var width: Int
    /// The height a player shows (see `width`).
    public var height: Int
    /// The clockwise turn (0, 90, 180 or 270) a player applies to a clip's stored frames, from
    /// its display matrix (phones record portrait clips as turned landscape frames).
    public var rotation: Int
    /// Seconds; 0 for a picture. A frame sequence lasts frames / frameRate.
    public var duration: Double
    /// The clip's nominal rate, or the rate a frame sequence is given.
    public var frameRate: Double
    /// Video frames as `stylize probe` counts them; 1 for a picture.
    public var frames: Int
    /// Whether a clip has a sound track.
    public var hasAudio: Bool

    /// Reads `url`: a folder is a frame sequence at `sequenceFrameRate`, a file with a picture
    /// extension (`FrameSequence.pictureExtensions`) a picture, anything else a clip.
    public init(of url: URL, sequenceFrameRate: Double = 30) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw StylizeError.fileNotFound(url.displayPath) }
        if isFolder.boolValue {
            let files = try FrameSequence(url.path).files()
            guard let first = files.first else { throw StylizeError.unreadable(path: url.displayPath, reason: "the folder holds no pictures") }
            let picture = try Picture(contentsOf: first)
            self.init(kind: .frames, width: picture.width, height: picture.height, duration: Double(files.count) / sequenceFrameRate,
                      frameRate: sequenceFrameRate, frames: files.count, hasAudio: false)
        } else if FrameSequence.pictureExtensions.contains(url.pathExtension.lowercased()) {
            let picture = try Picture(contentsOf: url)
            self.init(kind: .picture, width: picture.width, height: picture.height, duration: 0, frameRate: 0, frames: 1, hasAudio: false)
        } else {
            let layout = try ClipLayout(of: url.path)
            let demuxer = try Demuxer(path: url.path)
            let audio = av_find_best_stream(demuxer.context, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0) >= 0
            let rotation = VideoWriter.displayRotation(of: demuxer.stream(try demuxer.bestVideoStream().index))
            let (width, height) = rotation % 180 == 0 ? (layout.width, layout.height) : (layout.height, layout.width)
            self.init(kind: .clip, width: width, height: height, duration: layout.seconds, frameRate: layout.frameRate,
                      frames: layout.frames, hasAudio: audio, rotation: rotation)
        }
    }

    /// A description with each value given.
    public init(kind: Kind, width: Int, height: Int, duration: Double, frameRate: Double, frames: Int, hasAudio: Bool, rotation: Int = 0) {
        self.kind = kind
        self.rotation = rotation
        self.width = width
        self.height = height
        self.duration = duration
        self.frameRate = frameRate
        self.frames = frames
        self.hasAudio = hasAudio
    }
}

extension Picture {
    /// The frame of the clip at `url` shown at `seconds` from the clip's start: the first frame
    /// at or after that time, found by seeking to the keyframe before it. It is the frame as
    /// stored; `rotated(clockwise: MediaInfo.rotation)` turns it as a player shows it.
    public init(clip url: URL, at seconds: Double) throws {
        guard seconds.isFinite, seconds >= 0 else { throw StylizeError.invalidArgument("time \(seconds) is not a time in the clip") }
        let reader = try VideoReader(path: url.path, formatName: nil, start: seconds, duration: nil)
        while let item = try reader.next() {
            if case .frame(let frame, _) = item {
                self = try Picture(frame: frame)
                return
            }
        }
        throw StylizeError.invalidArgument("\(url.displayPath) has no frame at \(String(format: "%.3f", seconds)) s")
    }
}
