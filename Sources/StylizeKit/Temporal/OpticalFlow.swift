import Foundation
import StylizeFlow

/// An 8-bit luma plane of a frame, shrunk by an integer factor (box average): what the optical
/// flow runs on.
struct LumaPlane: Sendable {
    let width: Int, height: Int
    var values: [UInt8]

    /// BT.601 luma of `image`, averaged over `scale` x `scale` boxes.
    init(_ image: RGBImage, scale: Int) {
        let w = image.width / scale, h = image.height / scale
        var values = [UInt8](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { p in
            values.withUnsafeMutableBufferPointer { out in
                let norm = 255 / Float(scale * scale)
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
                        out[y * w + x] = UInt8(min(max(sum * norm, 0), 255).rounded())
                    }
                }
            }
        }
        (width, height, self.values) = (w, h, values)
    }
}

/// Dense optical flow between luma planes: OpenCV's DIS (Kroeger et al., ECCV 2016), through the
/// `StylizeFlow` shim. Sub-pixel and dense, where block matching was whole-pixel and blocky.
/// One instance per thread.
final class OpticalFlow {
    private let handle: OpaquePointer

    /// OpenCV's DIS presets.
    enum Preset: Int32 {
        case ultrafast = 0, fast = 1, medium = 2
    }

    init(preset: Preset) throws {
        guard let handle = stylize_flow_create(preset.rawValue) else {
            throw StylizeError.invalidArgument("OpenCV could not make a DIS optical flow")
        }
        self.handle = handle
    }

    deinit { stylize_flow_destroy(handle) }

    /// (dx, dy) for every pixel of `from`: where it is seen in `to`.
    func flow(from: LumaPlane, to: LumaPlane) throws -> [Float] {
        precondition(from.width == to.width && from.height == to.height, "flow between planes of different sizes")
        var out = [Float](repeating: 0, count: 2 * from.width * from.height)
        let status = from.values.withUnsafeBufferPointer { a in
            to.values.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    stylize_flow_compute(handle, a.baseAddress, b.baseAddress, Int32(from.width), Int32(from.height), o.baseAddress)
                }
            }
        }
        guard status == 0 else { throw StylizeError.invalidArgument("OpenCV's optical flow failed on a \(from.width)x\(from.height) frame") }
        return out
    }
}
