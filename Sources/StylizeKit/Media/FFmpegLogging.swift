import CFFmpeg

/// FFmpeg's own log, which goes to stderr. StylizeKit keeps it quiet unless asked: it reports
/// every failure itself, in one line, some decoders log even their ordinary failures as fatal,
/// and encoder statistics are noise in a program that uses the library.
public enum FFmpegLogging {
    /// Silences FFmpeg the first time StylizeKit touches it, unless a level was chosen before.
    private static let defaultApplied: Void = av_log_set_level(AV_LOG_QUIET)

    /// Called by every FFmpeg owner before it starts.
    static func applyDefault() { _ = defaultApplied }

    /// Silences FFmpeg's own messages (the default).
    public static func quiet() {
        applyDefault()
        av_log_set_level(AV_LOG_QUIET)
    }

    /// How much of FFmpeg's own log gets through, from the least to the most.
    public enum Level: Sendable, CaseIterable {
        /// Only what makes FFmpeg abort.
        case panic
        /// Errors FFmpeg cannot go on after.
        case fatal
        /// Errors.
        case error
        /// Warnings and errors (the default of `enable`).
        case warning
        /// What FFmpeg reports about streams and codecs as well.
        case info
        /// More detail.
        case verbose
        /// Everything FFmpeg logs for debugging.
        case debug

        var ffmpeg: Int32 {
            switch self {
            case .panic: AV_LOG_PANIC
            case .fatal: AV_LOG_FATAL
            case .error: AV_LOG_ERROR
            case .warning: AV_LOG_WARNING
            case .info: AV_LOG_INFO
            case .verbose: AV_LOG_VERBOSE
            case .debug: AV_LOG_DEBUG
            }
        }
    }

    /// Lets FFmpeg's messages through from `level` up, for debugging a file FFmpeg has trouble
    /// with.
    public static func enable(_ level: Level = .warning) {
        applyDefault()
        av_log_set_level(level.ffmpeg)
    }
}
