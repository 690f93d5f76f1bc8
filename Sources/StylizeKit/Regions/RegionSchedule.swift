import Foundation

/// What a worker needs of the regions for one frame: its stored mask (nil when the mask is keyed
/// from the frame), and the outside's style (nil: the original).
struct RegionWork: Sendable {
    var stored: Frame?
    var outside: StyleConditioning?
}

/// A job's regions with the outside's style computed, as the workers share them.
struct RegionSetup: Sendable {
    let regions: Regions
    /// The outside's style over the job; nil for the original.
    let outside: StyleTimeline?
}

/// The regions' part of the reading stage, which sees frames in order: each frame's stored mask
/// and the outside's style at its time.
final class RegionSchedule {
    private let masks: MaskReader?
    private let outside: ConditioningSchedule?
    /// The source's frame rate, which numbers a clip's frames for a mask folder by their time.
    private let frameRate: Double?

    /// The stored masks `masks` reads (nil: keyed from each frame) and the outside's style
    /// (nil: the original). With `frameRate`, a mask folder's pictures go with the frames whose
    /// time times the rate is their index (the source's own frame numbers, whatever the cut, the
    /// piece or an output rate); without, with the frames' indices among those read.
    init(masks: MaskReader?, outside: ConditioningSchedule?, frameRate: Double? = nil) {
        self.masks = masks
        self.outside = outside
        self.frameRate = frameRate
    }

    /// The regions' work for the frame with `index` among those read, at `seconds` on the source's timeline.
    func work(index: Int, seconds: Double) throws -> RegionWork {
        let number = frameRate.map { Int((seconds * $0).rounded()) } ?? index
        return RegionWork(stored: try masks?.mask(index: number, seconds: seconds), outside: try outside?.conditioning(at: seconds))
    }

    /// What the summary should say about the masks.
    var notes: [String] { masks?.notes ?? [] }
}
