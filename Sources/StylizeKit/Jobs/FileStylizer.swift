import Foundation

/// A job from files to files: a clip (`VideoStylizer`) or a frame sequence
/// (`FrameSequenceStylizer`). `run` works on the calling thread; `stylize` runs it off the
/// caller's thread, where cancelling the task stops the job with `CancellationError` (what it
/// leaves behind is each type's to say).
public protocol FileStylizer: Sendable {
    /// Stylizes `input` into `output` on the calling thread, each frame with the style
    /// `timeline` gives at its time. `progress` is called once per frame written; when
    /// `isCancelled` returns true, the job stops with `CancellationError`.
    func run(input: URL, output: URL, timeline: StyleTimeline, progress: (@Sendable (JobProgress) -> Void)?,
             isCancelled: (@Sendable () -> Bool)?) throws -> JobSummary
}

extension FileStylizer {
    /// Stylizes `input` into `output` with one style at `strength`, off the caller's thread.
    public func stylize(_ input: URL, to output: URL, style: StyleVector, strength: Double = 1,
                        progress: (@Sendable (JobProgress) -> Void)? = nil) async throws -> JobSummary {
        try await stylize(input, to: output, timeline: StyleTimeline(constant: style, strength: strength), progress: progress)
    }

    /// Stylizes `input` into `output`, each frame with the style `timeline` gives at its time,
    /// off the caller's thread; `progress` is called once per frame written. Cancelling the
    /// task stops the job with `CancellationError`.
    public func stylize(_ input: URL, to output: URL, timeline: StyleTimeline,
                        progress: (@Sendable (JobProgress) -> Void)? = nil) async throws -> JobSummary {
        try await runBlocking { isCancelled in
            try self.run(input: input, output: output, timeline: timeline, progress: progress, isCancelled: isCancelled)
        }
    }
}
