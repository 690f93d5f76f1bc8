import CDNNL
import CFFmpeg

/// StylizeKit's version, and the libraries this build runs on, for `--version` and bug reports.
public enum StylizeKitVersion {
    /// Semantic version of the library and the `stylize` tool.
    public static let string = "0.3.0"

    /// FFmpeg's and oneDNN's versions as loaded at run time.
    public static var libraries: String {
        let dnnl = dnnl_version().pointee
        return "FFmpeg \(String(cString: av_version_info())) (libavcodec \(version(avcodec_version())), libavformat \(version(avformat_version()))), "
            + "oneDNN \(dnnl.major).\(dnnl.minor).\(dnnl.patch)"
    }

    private static func version(_ packed: UInt32) -> String {
        "\(packed >> 16).\((packed >> 8) & 0xFF).\(packed & 0xFF)"
    }
}
