import Foundation

/// Every failure StylizeKit reports. Each message is one line that says what went wrong, in
/// terms of files and values rather than of any program's flags (the `stylize` tool adds its
/// own hints, such as which flag to pass).
public enum StylizeError: Error, LocalizedError, Equatable {
    /// A model file is missing from every place searched.
    case modelMissing(name: String, searched: [String])
    /// A model file exists but is not the expected one (checksum, parse or content mismatch).
    case modelDamaged(path: String, reason: String)
    /// An input file does not exist.
    case fileNotFound(String)
    /// A file exists but could not be read as the kind of file asked for.
    case unreadable(path: String, reason: String)
    /// An output could not be written.
    case unwritable(path: String, reason: String)
    /// The output exists and overwriting was not asked for.
    case outputExists(String)
    /// A style argument could not be understood.
    case badStyle(String)
    /// A user-supplied value is out of range or malformed.
    case invalidArgument(String)
    /// A oneDNN call failed; `status` is its dnnl_status_t.
    case dnnl(call: String, status: Int)
    /// An FFmpeg call failed; `code` is its AVERROR and `text` its av_strerror message.
    case ffmpeg(call: String, code: Int32, text: String)

    /// The one-line message.
    public var errorDescription: String? {
        switch self {
        case let .modelMissing(name, searched):
            return "model \(name) not found in \(searched.joined(separator: ", "))"
        case let .modelDamaged(path, reason):
            return "model \(path) is damaged (\(reason))"
        case let .fileNotFound(path):
            return "\(path): no such file"
        case let .unreadable(path, reason):
            return "\(path): \(reason)"
        case let .unwritable(path, reason):
            return "cannot write \(path): \(reason)"
        case let .outputExists(path):
            return "\(path) already exists and replacing it was not asked for"
        case let .badStyle(message):
            return "bad style: \(message)"
        case let .invalidArgument(message):
            return message
        case let .dnnl(call, status):
            return "oneDNN \(call) failed with status \(status)"
        case let .ffmpeg(call, code, text):
            return "FFmpeg \(call) failed: \(text) (\(code))"
        }
    }
}
