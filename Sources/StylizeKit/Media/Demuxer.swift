import CFFmpeg
import Foundation

/// Owns an input AVFormatContext: a container (or a still image) opened for reading.
final class Demuxer {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String

    /// What stops blocking reads (a live source's), when there is one.
    let interrupter: ReadInterrupter?

    /// Opens `path` ("-" reads standard input); `formatName` forces a container (needed for
    /// pipes of formats that cannot be probed, for image sequences: "image2", and for devices:
    /// "v4l2", "lavfi"). With an `interrupter`, opening and every read give up when it says so.
    init(path: String, formatName: String? = nil, options: [String: String] = [:], interrupter: ReadInterrupter? = nil) throws {
        FFmpegLogging.applyDefault()
        FFmpegDevices.register()
        var format: UnsafePointer<AVInputFormat>?
        if let formatName {
            guard let found = av_find_input_format(formatName) else { throw StylizeError.invalidArgument("unknown input format \(formatName)") }
            format = found
        }
        var dictionary: OpaquePointer?
        defer { av_dict_free(&dictionary) }
        for (key, value) in options { av_dict_set(&dictionary, key, value, 0) }
        var context = avformat_alloc_context()
        if let interrupter { context?.pointee.interrupt_callback = interrupter.callback }
        // On failure avformat_open_input frees the context it was given.
        let code = avformat_open_input(&context, path == "-" ? "pipe:0" : path, format, &dictionary)
        guard code >= 0, let context else {
            if let reason = interrupter?.reason { throw StylizeError.unreadable(path: path, reason: reason) }
            if code == -ENOENT { throw StylizeError.fileNotFound(path) }
            throw StylizeError.unreadable(path: path, reason: "not a readable image or media file (\(ffmpegErrorText(code)))")
        }
        self.context = context
        self.path = path
        self.interrupter = interrupter
        let info = avformat_find_stream_info(context, nil)
        if info < 0 {
            let reason = interrupter?.reason ?? "cannot read stream information (\(ffmpegErrorText(info)))"
            throw StylizeError.unreadable(path: path, reason: reason)
        }
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&context)
    }

    /// The index of the best video stream and its decoder.
    func bestVideoStream() throws -> (index: Int32, codec: UnsafePointer<AVCodec>) {
        var codec: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        guard index >= 0, let codec else {
            throw StylizeError.unreadable(path: path, reason: "no picture in this file")
        }
        return (index, codec)
    }

    func stream(_ index: Int32) -> UnsafeMutablePointer<AVStream> {
        context.pointee.streams[Int(index)]!
    }

    /// Reads the next packet into `packet`; false at the end of the file.
    func read(into packet: Packet) throws -> Bool {
        let code = av_read_frame(context, packet.pointer)
        if code == cffmpeg_error_eof() { return false }
        try ffmpegCheck(code, "av_read_frame(\(path))")
        return true
    }
}

/// Registers libavdevice's inputs and outputs (cameras, screens, lavfi, v4l2 outputs) and
/// sets up the network protocols, once.
enum FFmpegDevices {
    private static let registered: Void = {
        avdevice_register_all()
        avformat_network_init()
    }()

    static func register() { _ = registered }
}

/// Makes FFmpeg give up a blocking read or open: at a deadline (nothing arrived in time), or
/// when asked from another thread. FFmpeg polls `callback` while it waits. Sendable, unchecked:
/// its state is only touched under `lock`.
final class ReadInterrupter: @unchecked Sendable {
    private let lock = NSLock()
    private var deadline: UInt64?
    private var stopped = false
    private var timeoutSeconds = 0.0
    private var timedOut = false

    /// Gives up reads that wait longer than `seconds` from now (nil: no limit).
    func setDeadline(_ seconds: Double?) {
        lock.withLock {
            timeoutSeconds = seconds ?? 0
            deadline = seconds.map { DispatchTime.now().uptimeNanoseconds + UInt64($0 * 1e9) }
        }
    }

    /// Gives up the current read and every later one.
    func stop() { lock.withLock { stopped = true } }

    /// Whether `stop()` was called.
    var isStopped: Bool { lock.withLock { stopped } }

    /// Why reads were given up: the deadline passed (nil when stopped or not given up).
    var reason: String? {
        lock.withLock { timedOut ? String(format: "nothing arrived within %g s", timeoutSeconds) : nil }
    }

    /// Whether a read must stop now.
    var shouldInterrupt: Bool {
        lock.withLock {
            if stopped { return true }
            if let deadline, DispatchTime.now().uptimeNanoseconds > deadline { timedOut = true }
            return timedOut
        }
    }

    /// The callback FFmpeg polls; it holds this object unretained (the demuxer keeps it).
    var callback: AVIOInterruptCB {
        AVIOInterruptCB(callback: { opaque in
            Unmanaged<ReadInterrupter>.fromOpaque(opaque!).takeUnretainedValue().shouldInterrupt ? 1 : 0
        }, opaque: Unmanaged.passUnretained(self).toOpaque())
    }
}
