import Foundation

/// A live source: a camera, a screen, a test source or a network stream, read as it comes.
///
///     LiveInput("/dev/video0", size: "640x360", frameRate: "30")
///     LiveInput("udp://127.0.0.1:5000")
///     LiveInput("testsrc2=size=640x360:rate=30", format: "lavfi")
public struct LiveInput: Sendable, Hashable {
    /// What FFmpeg opens: a device (/dev/video0), a URL (udp://, srt://, rtsp://, rtmp://), a
    /// lavfi graph (with the format lavfi), or a file, which is played at its own pace.
    public var location: String
    /// The input format by FFmpeg name: v4l2, x11grab, lavfi, mpegts, ... (nil: v4l2 for a
    /// /dev/video device, else guessed from what arrives).
    public var format: String?
    /// The frame size to ask a device for, WIDTHxHEIGHT (nil: its own).
    public var size: String?
    /// The frame rate to ask a device for (nil: its own).
    public var frameRate: String?
    /// Further options of the input format, as FFmpeg names them (`-option value` on
    /// ffmpeg's command line before `-i`).
    public var options: [String: String] = [:]
    /// Seconds to wait for the source to open, and then for each next packet, before the job
    /// gives up on it; 0 waits for ever once it is open.
    public var timeout: Double = 4

    /// A source at `location`, read with `format` when it is given.
    public init(_ location: String, format: String? = nil, size: String? = nil, frameRate: String? = nil) {
        self.location = location
        self.format = format
        self.size = size
        self.frameRate = frameRate
    }

    /// The format FFmpeg is told to use.
    var formatName: String? {
        format ?? (location.hasPrefix("/dev/video") ? "v4l2" : nil)
    }

    /// Whether frames come as fast as they are read (a file, a lavfi graph) and are released at
    /// the pace of their timestamps, as a camera or a stream would deliver them.
    var needsPacing: Bool {
        if formatName == "lavfi" { return true }
        guard !location.contains("://"), !location.hasPrefix("/dev/") else { return false }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// The options FFmpeg opens the source with: the asked size and rate, and a short probe
    /// for streams. The probed packets are kept (no `nobuffer`): they hold the keyframe the
    /// decoder starts from.
    var demuxerOptions: [String: String] {
        var all: [String: String] = [:]
        if let size { all["video_size"] = size }
        if let frameRate { all["framerate"] = frameRate }
        if location.contains("://") { all["analyzeduration"] = "1000000" }
        // FFmpeg binds a UDP input to every interface unless told an address: a URL that names
        // a loopback host is bound to it, so that nothing off this machine reaches the job.
        if location.hasPrefix("udp://"), let host = URLComponents(string: location)?.host,
           ["localhost", "::1", "[::1]"].contains(host) || host.hasPrefix("127.") {
            all["localaddr"] = host
        }
        return all.merging(options) { _, given in given }
    }

    /// Checks what can be checked before the source is opened.
    func validate() throws {
        guard !location.isEmpty else { throw StylizeError.invalidArgument("a live source needs a device, a URL or a graph") }
        guard timeout >= 0, timeout.isFinite else { throw StylizeError.invalidArgument("the input timeout must be 0 or more seconds, got \(timeout)") }
        if let size {
            let sides = size.split(separator: "x").compactMap { Int($0) }
            guard sides.count == 2, sides.allSatisfy({ $0 > 0 }) else {
                throw StylizeError.invalidArgument("the input size takes WIDTHxHEIGHT (640x360), got \(size)")
            }
        }
    }
}
