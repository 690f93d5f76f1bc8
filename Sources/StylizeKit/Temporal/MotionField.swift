import Foundation
import StylizeKernels

/// Luma of an RGB image, optionally shrunk by an integer factor (box average).
struct LumaPlane: Sendable {
    let width: Int, height: Int
    var values: [Float]

    init(width: Int, height: Int, values: [Float]) {
        self.width = width
        self.height = height
        self.values = values
    }

    /// BT.601 luma of `image`, averaged over `scale` x `scale` boxes.
    init(_ image: RGBImage, scale: Int) {
        let w = image.width / scale, h = image.height / scale
        var values = [Float](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { p in
            values.withUnsafeMutableBufferPointer { out in
                let norm = 1 / Float(scale * scale)
                for y in 0..<h {
                    for x in 0..<w {
                        var sum: Float = 0
                        for dy in 0..<scale {
                            var i = ((y * scale + dy) * image.width + x * scale) * 3
                            for _ in 0..<scale {
                                sum += 0.299 * p[i] + 0.587 * p[i + 1] + 0.114 * p[i + 2]
                                i += 3
                            }
                        }
                        out[y * w + x] = sum * norm
                    }
                }
            }
        }
        self.init(width: w, height: h, values: values)
    }
}

/// Block motion between two frames: for each block of the current frame, the displacement to
/// where its content was in the previous frame (current(x) ~ previous(x + d)), found by block
/// matching (sum of absolute luma differences) on a reduced-resolution luma, and how well it
/// matched. Cheap and exact for whole-pixel motion at the working scale; a rough field for
/// everything else, which the stabilizer only trusts where the match is good.
struct MotionField {
    /// Side of a block, in pixels of the working plane.
    static let blockSize = 8
    /// Search range, in pixels of the working plane, each way.
    static let searchRadius = 6

    /// Working-plane pixels per full-resolution pixel (1, 2 or 4).
    let scale: Int
    let columns: Int, rows: Int
    /// Displacement of each block at full resolution (multiples of `scale`).
    var dx: [Int], dy: [Int]
    /// Mean absolute luma difference of each block's best match (0...1).
    var error: [Float]

    /// The working scale for a frame `width` wide: about 320 pixels or fewer across.
    static func scale(forWidth width: Int) -> Int {
        width > 1280 ? 4 : width > 640 ? 2 : 1
    }

    init(previous: LumaPlane, current: LumaPlane, scale: Int) {
        precondition(previous.width == current.width && previous.height == current.height)
        let b = Self.blockSize, r = Self.searchRadius
        let (w, h) = (current.width, current.height)
        let columns = max(1, (w + b - 1) / b), rows = max(1, (h + b - 1) / b)
        var dx = [Int](repeating: 0, count: columns * rows), dy = dx
        var error = [Float](repeating: 1, count: columns * rows)
        previous.values.withUnsafeBufferPointer { prev in
            current.values.withUnsafeBufferPointer { cur in
                for row in 0..<rows {
                    for column in 0..<columns {
                        let x0 = column * b, y0 = row * b
                        let bw = min(b, w - x0), bh = min(b, h - y0)
                        func sad(_ ox: Int, _ oy: Int) -> Float {
                            stylize_block_sad(cur.baseAddress! + y0 * w + x0, prev.baseAddress! + (y0 + oy) * w + x0 + ox, w, Int32(bw), Int32(bh))
                        }
                        // Zero motion wins unless something is clearly better (noise must not
                        // make still content drift).
                        var best = sad(0, 0) * 0.97 - 0.002 * Float(bw * bh)
                        var (bx, by) = (0, 0)
                        for oy in max(-r, -y0)...min(r, h - y0 - bh) {
                            for ox in max(-r, -x0)...min(r, w - x0 - bw) where ox != 0 || oy != 0 {
                                let s = sad(ox, oy)
                                if s < best { (best, bx, by) = (s, ox, oy) }
                            }
                        }
                        let i = row * columns + column
                        (dx[i], dy[i]) = (bx * scale, by * scale)
                        error[i] = sad(bx, by) / Float(bw * bh)
                    }
                }
            }
        }
        self.scale = scale
        self.columns = columns
        self.rows = rows
        self.dx = dx
        self.dy = dy
        self.error = error
    }

    /// The block (index) a full-resolution pixel belongs to.
    @inline(__always)
    func block(x: Int, y: Int) -> Int {
        let side = Self.blockSize * scale
        return min(rows - 1, y / side) * columns + min(columns - 1, x / side)
    }
}
