import CFFmpeg
import Foundation

/// How a video encoder is set up for a job: its constant-quality level and speed preset (asked
/// for, or the codec's default here), libvpx's deadline and cpu-used for the same preset names,
/// and the context fields every encoder gets.
struct EncoderSettings {
    let crf: Int?
    let preset: String?
    let vpxSpeed: (deadline: String, cpuUsed: Int)?

    /// Checks what `options` ask of `codec` against what it offers.
    init(codec: UnsafePointer<AVCodec>, options: JobOptions) throws {
        let name = String(cString: codec.pointee.name)
        if options.crf != nil, !Self.hasOption("crf", codec: codec) {
            throw StylizeError.invalidArgument("the \(name) encoder has no constant-quality setting; leave the quality unset, or choose the libx264 codec")
        }
        crf = options.crf ?? Self.defaultCRF[name]
        let preset = options.preset ?? Self.defaultPreset[name]
        // libvpx has no presets: the same names choose its deadline and cpu-used.
        if Self.hasOption("cpu-used", codec: codec) && Self.hasOption("deadline", codec: codec) {
            guard let speed = Self.vpxSpeeds[preset ?? "ultrafast"] else {
                throw StylizeError.invalidArgument("\(name) takes the presets \(Self.presetNames.joined(separator: ", ")), got \(preset!)")
            }
            vpxSpeed = speed
            self.preset = nil
        } else {
            if preset != nil, !Self.hasOption("preset", codec: codec) {
                throw StylizeError.invalidArgument("the \(name) encoder has no preset option; leave the preset unset")
            }
            vpxSpeed = nil
            self.preset = preset
        }
    }

    /// What sets up an encoder's context: the stream's rate, aspect and colours, then these settings.
    /// - Parameters:
    ///   - threads: the encoder's threads at the fastest preset (0: FFmpeg's choice).
    ///   - lowLatency: each frame's packet out as soon as it is encoded (live jobs): no B-frames,
    ///     no look-ahead, and a keyframe every second so that a viewer can join a stream.
    func configuration(frameRate: AVRational, sampleAspect: AVRational, colors: VideoColors, globalHeader: Bool,
                       threads: Int, lowLatency: Bool = false) -> (UnsafeMutablePointer<AVCodecContext>) -> Void {
        let (crf, preset, vpxSpeed) = (crf, preset, vpxSpeed)
        return { context in
            if lowLatency {
                context.pointee.max_b_frames = 0
                context.pointee.gop_size = frameRate.num > 0 ? max(1, Int32((av_q2d(frameRate)).rounded())) : 30
                av_opt_set(context.pointee.priv_data, "tune", "zerolatency", 0)
                av_opt_set_int(context.pointee.priv_data, "lag-in-frames", 0, 0)
            }
            context.pointee.framerate = frameRate
            context.pointee.sample_aspect_ratio = sampleAspect
            context.pointee.colorspace = colors.matrix
            context.pointee.color_range = colors.range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
            context.pointee.color_primaries = colors.primaries
            context.pointee.color_trc = colors.transfer
            if globalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
            if let preset { av_opt_set(context.pointee.priv_data, "preset", preset, 0) }
            if let vpxSpeed {
                av_opt_set(context.pointee.priv_data, "deadline", vpxSpeed.deadline, 0)
                av_opt_set_int(context.pointee.priv_data, "cpu-used", Int64(vpxSpeed.cpuUsed), 0)
                // Rows of tiles encoded in parallel: without it libvpx uses one core.
                av_opt_set_int(context.pointee.priv_data, "row-mt", 1, 0)
                context.pointee.thread_count = Int32(ProcessInfo.processInfo.activeProcessorCount)
            }
            // At the fastest preset one encoder thread keeps up with the transformer (the other
            // stages already run in parallel), and frame threads would each hold frames of their
            // own; unless the network's size is so much smaller that encoding costs more than
            // the network (`JobOptions.codecThreads`).
            if preset == "ultrafast" { context.pointee.thread_count = Int32(threads) }
            if let crf {
                av_opt_set(context.pointee.priv_data, "crf", "\(crf)", 0)
                context.pointee.bit_rate = 0  // constant quality (libvpx and libaom need b=0 for it)
            }
        }
    }

    /// Codec defaults for --crf: visually transparent to near-transparent on each codec's scale
    /// (libx264's 15 at the ultrafast preset keeps stylized frames above 40 dB PSNR).
    static let defaultCRF: [String: Int] = ["libx264": 15, "libx264rgb": 15, "libx265": 20, "libvpx-vp9": 31, "libaom-av1": 31, "libsvtav1": 31]
    /// Codec defaults for --preset: the fastest, so that encoding keeps up with the transformer.
    static let defaultPreset: [String: String] = ["libx264": "ultrafast", "libx264rgb": "ultrafast", "libx265": "ultrafast"]

    /// libvpx's deadline and cpu-used for each speed preset name. The default (ultrafast:
    /// realtime, cpu-used 8, with row multithreading) keeps up with the transformer, which
    /// libvpx-vp9's own default (good, one thread) does not, at almost the same quality.
    static let vpxSpeeds: [String: (deadline: String, cpuUsed: Int)] = [
        "ultrafast": ("realtime", 8), "superfast": ("realtime", 7), "veryfast": ("realtime", 6), "faster": ("realtime", 5),
        "fast": ("good", 4), "medium": ("good", 3), "slow": ("good", 2), "slower": ("good", 1), "veryslow": ("best", 0),
    ]
    static let presetNames = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]

    /// Whether the encoder has a private option `name` (presets are codec-specific).
    static func hasOption(_ name: String, codec: UnsafePointer<AVCodec>) -> Bool {
        guard var priv = codec.pointee.priv_class else { return false }
        return withUnsafeMutablePointer(to: &priv) { av_opt_find(UnsafeMutableRawPointer($0), name, nil, 0, AV_OPT_SEARCH_FAKE_OBJ) != nil }
    }
}
