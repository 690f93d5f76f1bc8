import Dispatch
import Foundation

/// The style of a live job, which can change while the job runs: a new style, strength or mix
/// is taken from the next frame on, and crossfades from what shows to the new look over
/// `crossfade` seconds. Changes may come from any thread.
///
///     let style = try LiveStyle(stylizer.styleVector(for: "starry-night"))
///     job.liveStyle = style
///     let handle = job.start(with: stylizer)
///     try style.change(to: stylizer.styleVector(for: "the-scream"), strength: 0.8)
public final class LiveStyle: @unchecked Sendable {
    /// Seconds a change takes to fade in.
    public let crossfade: Double
    // Guarded by `lock`.
    private let lock = NSLock()
    private var style: StyleVector
    private var strength: Double
    /// The vector last shown, which a change fades from, and when the change came.
    private var shown: StyleVector?
    private var fade: (from: StyleVector, started: UInt64)?
    private var conditioning: StyleConditioning?

    /// Starts with `style` at `strength` (0...1); changes fade over `crossfade` seconds.
    public init(_ style: StyleVector, strength: Double = 1, crossfade: Double = 0.5) throws {
        try StyleVector.check(strength: strength)
        guard crossfade >= 0, crossfade.isFinite else { throw StylizeError.invalidArgument("the crossfade must be 0 or more seconds, got \(crossfade)") }
        (self.style, self.strength, self.crossfade) = (style, strength, crossfade)
    }

    /// Changes the style, the strength or both; what is not given stays.
    public func change(to style: StyleVector? = nil, strength: Double? = nil) throws {
        if let strength { try StyleVector.check(strength: strength) }
        lock.withLock {
            if let shown { fade = (shown, DispatchTime.now().uptimeNanoseconds) }
            if let style { self.style = style }
            if let strength { self.strength = strength }
        }
    }

    /// The style and strength the job fades towards or shows.
    public var current: (style: StyleVector, strength: Double) {
        lock.withLock { (style, strength) }
    }

    /// Whether the current strength needs the content's own vector.
    var needsIdentity: Bool { lock.withLock { strength < 1 } }

    /// The network's parameters for a frame stylized now; `identity` is the content's own
    /// vector (needed for strengths below 1). A warm-up run (`showing` false) gets the style at
    /// full strength, and no fade starts from it.
    func conditioning(transformer: StyleTransformer, identity: StyleVector?, showing: Bool = true) throws -> StyleConditioning {
        try lock.withLock {
            guard showing else { return transformer.conditioning(for: style) }
            var vector = style
            if strength < 1 {
                guard let identity else { throw StylizeError.invalidArgument("a strength below 1 needs the content's own style vector") }
                vector = try style.blended(towards: identity, strength: strength)
            }
            if let (from, started) = fade {
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                if elapsed < crossfade {
                    let u = elapsed / crossfade, eased = u * u * (3 - 2 * u)
                    vector = try StyleVector.mix([(from, 1 - eased), (vector, eased)])
                } else {
                    fade = nil
                }
            }
            shown = vector
            if let conditioning, conditioning.vector == vector { return conditioning }
            let made = transformer.conditioning(for: vector)
            conditioning = made
            return made
        }
    }
}
