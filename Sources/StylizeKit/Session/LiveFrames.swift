import CFFmpeg
import Foundation

/// The newest frames of a live source (a camera, a screen, a stream) in memory, for a caller
/// that paints them with a ``FrameSession`` and shows them itself: the studio's page watching
/// a camera on the server, for one. The source is read on a thread of its own from `init`
/// until `stop()`; as in a live job, the newest frame wins and frames nobody took are dropped.
///
/// Sendable, unchecked: `newest(waiting:)` is for one caller at a time; `stop()` may come from
/// any thread.
public final class LiveFrames: @unchecked Sendable {
    private let capture: LiveCapture
    private let converter = FrameConverter()
    /// The source, as it was given.
    public let input: LiveInput

    /// Opens `input` and starts reading it; throws a one-line error when it does not open within
    /// its timeout.
    public init(_ input: LiveInput) throws {
        self.input = input
        capture = try LiveCapture(input)
        capture.start()
    }

    deinit { capture.stop() }

    /// The newest frame as RGBA (one swscale pass, in the source's colours), upright as stored,
    /// with its time in the source (from its first frame); waits up to `seconds` for one. Nil
    /// when none came in that time; throws when the source has ended.
    public func newest(waiting seconds: Double) throws -> PixelFrame? {
        switch capture.frames.take(waiting: seconds) {
        case .frame(let captured):
            let frame = captured.frame
            let (width, height) = (frame.width, frame.height)
            var pixels = try PixelFrame(format: .rgba, width: width, height: height,
                                        seconds: Double(captured.pts) * av_q2d(capture.stream.pointee.time_base))
            try pixels.withBuffer { try converter.convert(frame, into: $0) }
            return pixels
        case .none:
            return nil
        case .ended:
            throw StylizeError.unreadable(path: input.location, reason: capture.frames.counts.endReason ?? "the source ended")
        }
    }

    /// Stops reading and waits until the reading thread is done.
    public func stop() { capture.stop() }
}
