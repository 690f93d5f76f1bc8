import CFFmpeg

/// FFmpeg's own log, which goes to stderr.
public enum FFmpegLogging {
    /// Silences FFmpeg's own messages (some decoders log even their ordinary failures as
    /// fatal): StylizeKit reports every failure itself, in one line, and encoder statistics are
    /// noise on a command line.
    public static func quiet() {
        av_log_set_level(AV_LOG_QUIET)
    }
}
