import CFFmpeg

/// FFmpeg's own log, which goes to stderr.
public enum FFmpegLogging {
    /// Keeps FFmpeg to errors only (no encoder statistics), as a command-line tool wants.
    public static func errorsOnly() {
        av_log_set_level(AV_LOG_ERROR)
    }
}
