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

    /// Lets FFmpeg's messages through from `level` up (`AV_LOG_ERROR`, `AV_LOG_WARNING`,
    /// `AV_LOG_INFO`, ...), for debugging a file FFmpeg has trouble with.
    public static func enable(level: Int32 = AV_LOG_WARNING) {
        applyDefault()
        av_log_set_level(level)
    }
}
