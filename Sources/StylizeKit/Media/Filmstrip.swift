import Foundation

/// A strip of output frames evenly spaced over a job, side by side in one picture (each scaled
/// to `height` pixels), to check a transition at a glance. Sendable, unchecked: workers offer
/// frames at once, and `frames` is only touched under `lock`.
final class Filmstrip: @unchecked Sendable {
    let url: URL
    let height: Int
    /// Frame indices to keep.
    let targets: Set<Int>
    private var frames: [Int: Picture] = [:]
    private let lock = NSLock()

    /// - Parameter total: the job's frame count (an estimate for clips).
    init(url: URL, count: Int, total: Int, height: Int = 180) {
        self.url = url
        self.height = height
        targets = Set((0..<count).map { min(total - 1, Int((Double($0) + 0.5) * Double(total) / Double(count))) })
    }

    /// Keeps frame `index` if it is one of the targets (thread-safe).
    func offer(_ index: Int, _ image: RGBImage) throws {
        guard targets.contains(index) else { return }
        let width = max(1, Int((Double(image.width) * Double(height) / Double(image.height)).rounded()))
        let thumbnail = try Picture(image).resized(width: width, height: height)
        lock.withLock { frames[index] = thumbnail }
    }

    /// Writes the strip: the kept frames left to right, 4 pixels of dark grey between them.
    func write(overwrite: Bool) throws {
        let kept = lock.withLock { frames.sorted { $0.key < $1.key }.map(\.value) }
        guard !kept.isEmpty else { return }
        let gap = 4
        let width = kept.reduce(0) { $0 + $1.width } + gap * (kept.count + 1)
        let fullHeight = height + 2 * gap
        var samples = [UInt16](repeating: 0x2020, count: width * fullHeight * 3)
        var x0 = gap
        for picture in kept {
            for y in 0..<picture.height {
                let source = y * picture.width * 3, target = ((y + gap) * width + x0) * 3
                samples.replaceSubrange(target..<(target + picture.width * 3), with: picture.samples[source..<(source + picture.width * 3)])
            }
            x0 += picture.width + gap
        }
        try Picture(width: width, height: fullHeight, samples: samples).write(to: url, overwrite: overwrite)
    }
}
