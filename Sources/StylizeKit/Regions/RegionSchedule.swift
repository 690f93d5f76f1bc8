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
    /// The index in the whole source of the first frame read (a piece of a clip starts later).
    private let firstIndex: Int

    /// The stored masks `masks` reads (nil: keyed from each frame) and the outside's style
    /// (nil: the original); `firstIndex` is the first frame's index in the whole source.
    init(masks: MaskReader?, outside: ConditioningSchedule?, firstIndex: Int = 0) {
        self.masks = masks
        self.outside = outside
        self.firstIndex = firstIndex
    }

    /// The regions' work for the frame with `index` among those read, at `seconds`.
    func work(index: Int, seconds: Double) throws -> RegionWork {
        RegionWork(stored: try masks?.mask(index: firstIndex + index, seconds: seconds), outside: try outside?.conditioning(at: seconds))
    }

    /// What the summary should say about the masks.
    var notes: [String] { masks?.notes ?? [] }
}
