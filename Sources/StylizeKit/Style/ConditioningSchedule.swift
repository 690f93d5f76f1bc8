import Foundation

/// Gives each frame the StyleNorm parameters of its moment on a timeline. Parameters are
/// computed only when the vector changes: a constant style, or a hold before the first or
/// after the last keyframe, reuses one set for every frame (and the workers then skip
/// reloading them). Used from the reading stage only.
final class ConditioningSchedule {
    private let transformer: StyleTransformer
    private let timeline: StyleTimeline
    private let frameRate: Double
    private let identity: StyleVector?
    private var last: StyleConditioning?

    init(transformer: StyleTransformer, timeline: StyleTimeline, frameRate: Double, identity: StyleVector?) {
        self.transformer = transformer
        self.timeline = timeline
        self.frameRate = frameRate
        self.identity = identity
    }

    /// The parameters for the frame at `seconds` on the clip's timeline.
    func conditioning(at seconds: Double) throws -> StyleConditioning {
        if timeline.isConstant, let last { return last }
        let vector = try timeline.effectiveVector(at: seconds, frameRate: frameRate, identity: identity)
        if let last, last.vector == vector { return last }
        let conditioning = transformer.conditioning(for: vector)
        last = conditioning
        return conditioning
    }
}
