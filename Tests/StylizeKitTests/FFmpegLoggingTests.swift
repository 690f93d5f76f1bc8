import CFFmpeg
import StylizeKit
import XCTest

/// FFmpeg's log level is set through a Swift enum, with no FFmpeg import in the caller's code.
final class FFmpegLoggingTests: XCTestCase {
    func testLevelsReachFFmpeg() {
        defer { FFmpegLogging.quiet() }
        FFmpegLogging.enable(.info)
        XCTAssertEqual(av_log_get_level(), AV_LOG_INFO)
        FFmpegLogging.enable()
        XCTAssertEqual(av_log_get_level(), AV_LOG_WARNING)
        FFmpegLogging.quiet()
        XCTAssertEqual(av_log_get_level(), AV_LOG_QUIET)
    }
}
