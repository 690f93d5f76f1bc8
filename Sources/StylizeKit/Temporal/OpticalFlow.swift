import CFFmpeg
import Foundation
import StylizeFlow
import StylizeKernels

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

    init(width: Int, height: Int, values: [UInt8]) {
        (self.width, self.height, self.values) = (width, height, values)
    }
}

/// Dense optical flow between luma planes: OpenCV's DIS (Kroeger et al., ECCV 2016), through the
/// `StylizeFlow` shim. Sub-pixel and dense, where block matching was whole-pixel and blocky.
/// One instance per thread.
final class OpticalFlow {
    private let handle: OpaquePointer
    /// CPU time spent in the stabilizer's work through this flow (`timed`): measuring motion
    /// and blending.
    private(set) var cpuTime = CPUTally()

    /// DIS's settings (`stylize_flow_settings`).
    struct Settings {
        var finestScale: Int32, patchSize: Int32, patchStride: Int32, descentIterations: Int32, refinementIterations: Int32
    }

    init(_ settings: Settings) throws {
        let c = stylize_flow_settings(finest_scale: settings.finestScale, patch_size: settings.patchSize, patch_stride: settings.patchStride,
                                      descent_iterations: settings.descentIterations, refinement_iterations: settings.refinementIterations)
        guard let handle = stylize_flow_create(c) else {
            throw StylizeError.invalidArgument("OpenCV could not make a DIS optical flow")
        }
        self.handle = handle
    }

    deinit { stylize_flow_destroy(handle) }

    /// Runs `work`, counting its CPU time in `cpuTime`.
    func timed<T>(_ work: () throws -> T) rethrows -> T {
        let start = CPUTime.thread()
        defer { cpuTime.add(since: start) }
        return try work()
    }

    /// Blends `out` towards `previous` moved along `backward` (`stylize_flow_warp_blend`);
    /// false when OpenCV failed and `out` is unchanged (the frame then comes out as the network
    /// painted it).
    func warpBlend(previous: [Float], backward: [Float], trust: [Float], sure: [Float], lowWidth: Int, lowHeight: Int,
                   width: Int, height: Int, blend: stylize_blend, into out: inout [Float]) -> Bool {
        previous.withUnsafeBufferPointer { before in
            stylize_flow_warp_blend(handle, before.baseAddress, backward, trust, sure, Int32(lowWidth), Int32(lowHeight),
                                    Int32(width), Int32(height), blend, &out) == 0
        }
    }

    /// (dx, dy) for every pixel of `from`: where it is seen in `to`.
    func flow(from: LumaPlane, to: LumaPlane) throws -> [Float] {
        precondition(from.width == to.width && from.height == to.height, "flow between planes of different sizes")
        var status: Int32 = -1
        // stylize_flow_compute writes every value (and fails as a whole).
        let out = [Float](unsafeUninitializedCapacity: 2 * from.width * from.height) { o, count in
            status = from.values.withUnsafeBufferPointer { a in
                to.values.withUnsafeBufferPointer { b in
                    stylize_flow_compute(handle, a.baseAddress, b.baseAddress, Int32(from.width), Int32(from.height), o.baseAddress)
                }
            }
            count = status == 0 ? o.count : 0
        }
        guard status == 0 else { throw StylizeError.invalidArgument("OpenCV's optical flow failed on a \(from.width)x\(from.height) frame") }
        return out
    }

    /// The flow's two checks at each pixel of `current` (`stylize_flow_trust`): whether
    /// `backward` is the same where the pixel came from, and whether `previous` moved along it
    /// matches `current`.
    func check(backward: [Float], previous: LumaPlane, current: LumaPlane, slack: Float, lumaTolerance: Float, consistency: inout [Float],
               match: inout [Float]) {
        _ = previous.values.withUnsafeBufferPointer { before in
            current.values.withUnsafeBufferPointer { now in
                stylize_flow_trust(backward, before.baseAddress, now.baseAddress, Int32(current.width), Int32(current.height), slack, lumaTolerance,
                                   &consistency, &match)
            }
        }
    }

    /// Raises `consistency` where `luma` is flat (`stylize_flow_excuse_flat`); the share of pixels
    /// hardly trusted at all afterwards, or -1 when OpenCV failed.
    func excuseFlat(consistency: inout [Float], match: [Float], luma: LumaPlane, window: Int32, flatGradient: Float) -> Float {
        luma.values.withUnsafeBufferPointer { values in
            stylize_flow_excuse_flat(handle, &consistency, match, values.baseAddress, Int32(luma.width), Int32(luma.height), window, flatGradient)
        }
    }

    /// The trusts of each pixel `width` x `height` from the flow's checks (`stylize_flow_trust_regions`);
    /// false when OpenCV failed.
    func trustRegions(consistency: [Float], match: [Float], width: Int, height: Int, reach: Int32, trust: inout [Float],
                      sure: inout [Float]) -> Bool {
        stylize_flow_trust_regions(handle, consistency, match, Int32(width), Int32(height), reach, &trust, &sure) == 0
    }
}

/// Luma planes straight from decoded frames, for the stabilizer to measure motion on before the
/// frames are stylized: FFmpeg's scaler shrinks the frame's own luma (area averaging) to the
/// flow's size, as cheap as a frame conversion gets. Used by the stage that reads frames in
/// order; not thread-safe.
final class LumaReader {
    private var scaler: Scaler?
    /// CPU time spent shrinking lumas.
    private(set) var cpuTime = CPUTally()
    private var geometry: (width: Int, height: Int, format: AVPixelFormat, outWidth: Int, outHeight: Int)?

    /// The luma of `frame` at the flow's scale for a network input `width` x `height` (what
    /// `LumaPlane(_:scale:)` gives for that input, up to the frame's own luma weights).
    func luma(of frame: Frame, width: Int, height: Int) throws -> (plane: LumaPlane, scale: Int) {
        let start = CPUTime.thread()
        defer { cpuTime.add(since: start) }
        let scale = TemporalStabilizer.Motion.scale(forWidth: width)
        let (w, h) = (width / scale, height / scale)
        if geometry.map({ $0 != (frame.width, frame.height, frame.format, w, h) }) ?? true {
            scaler = try Scaler(from: (frame.width, frame.height, frame.format), to: (w, h, AV_PIX_FMT_GRAY8))
            geometry = (frame.width, frame.height, frame.format, w, h)
        }
        var values = [UInt8](repeating: 0, count: w * h)
        try values.withUnsafeMutableBufferPointer { out in
            try scaler!.scale(source: frame.planes.map { $0.map { UnsafePointer($0) } }, sourceStrides: frame.strides, height: frame.height,
                              destination: [out.baseAddress, nil, nil, nil], destinationStrides: [Int32(w), 0, 0, 0])
        }
        return (LumaPlane(width: w, height: h, values: values), scale)
    }
}

extension OpticalFlow {
    /// The planes of `frame` as `stylize_flow_warp_blend_planes` takes them, or nil when its
    /// pixel format is not one it can blend: it needs planes of whole 8- or 16-bit
    /// native-order samples (planar and semi-planar YUV, planar RGB, packed RGB24 and the like),
    /// and no palette, bitstream, float or hardware formats.
    static func planes(of frame: Frame) -> [stylize_plane]? {
        guard let descriptor = av_pix_fmt_desc_get(frame.format)?.pointee else { return nil }
        let unsupported = UInt64(AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_FLOAT)
        guard descriptor.flags & unsupported == 0 else { return nil }
        let components = withUnsafeBytes(of: descriptor.comp) { Array($0.bindMemory(to: AVComponentDescriptor.self).prefix(Int(descriptor.nb_components))) }
        let f = frame.pointer.pointee
        let weights = componentWeights(rgb: descriptor.flags & UInt64(AV_PIX_FMT_FLAG_RGB) != 0, colors: VideoColors(of: frame))
        let data = [f.data.0, f.data.1, f.data.2, f.data.3]
        let linesizes = [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3]
        var planes: [stylize_plane] = []
        for index in 0..<4 {
            let numbers = components.indices.filter { Int(components[$0].plane) == index }
            let inPlane = numbers.map { components[$0] }
            guard let first = inPlane.first else { continue }
            let bytes = first.depth <= 8 ? 1 : 2
            // Every component of the plane is a whole sample of the same depth, side by side.
            guard inPlane.allSatisfy({ $0.depth == first.depth && $0.shift == 0 && $0.depth <= 16 }),
                  Int(first.step) == inPlane.count * bytes,
                  Set(inPlane.map { Int($0.offset) }) == Set((0..<inPlane.count).map { $0 * bytes }),
                  let pointer = data[index] else { return nil }
            // Chroma planes (1 and 2 in YUV formats) are subsampled; luma, alpha and RGB planes are not.
            let chroma = descriptor.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0 && (index == 1 || index == 2) && components.count >= 3
            let width = chroma ? -((-frame.width) >> Int(descriptor.log2_chroma_w)) : frame.width
            let height = chroma ? -((-frame.height) >> Int(descriptor.log2_chroma_h)) : frame.height
            planes.append(stylize_plane(data: pointer, linesize: linesizes[index], width: Int32(width), height: Int32(height),
                                        channels: Int32(inPlane.count), bytes: Int32(bytes), maximum: Float((1 << Int(first.depth)) - 1),
                                        weight: numbers.reduce(0) { $0 + (weights.count > $1 ? weights[$1] : 0) }))
        }
        return planes.isEmpty ? nil : planes
    }

    /// How much a component's mean square change (as a share of its maximum) adds to the mean
    /// square change of the RGB values, by component number (Y, Cb, Cr or R, G, B; alpha
    /// none). RGB: a third each. YUV: from the matrix that turns it into RGB (R = Y + 2(1 - kr)
    /// Cr, B = Y + 2(1 - kb) Cb, G = Y - (2 kb (1 - kb) Cb + 2 kr (1 - kr) Cr) / kg), with a
    /// limited range's steps of 1/219 (luma) and 1/224 (chroma) of the full scale.
    private static func componentWeights(rgb: Bool, colors: VideoColors) -> [Float] {
        if rgb { return [1 / 3, 1 / 3, 1 / 3] }
        let k = colors.lumaWeights
        let luma: Float = colors.fullRange == true ? 1 : 255.0 / 219.0, chroma: Float = colors.fullRange == true ? 1 : 255.0 / 224.0
        let redFromCr = 2 * (1 - k.red), blueFromCb = 2 * (1 - k.blue)
        let greenFromCb = 2 * k.blue * (1 - k.blue) / k.green, greenFromCr = 2 * k.red * (1 - k.red) / k.green
        return [luma * luma,
                chroma * chroma * (blueFromCb * blueFromCb + greenFromCb * greenFromCb) / 3,
                chroma * chroma * (redFromCr * redFromCr + greenFromCr * greenFromCr) / 3]
    }

    /// Blends `frame` in place towards `previous` (the previous output, same format and size)
    /// moved along `backward` (`stylize_flow_warp_blend_planes`); false when the frames cannot be
    /// blended or memory ran out, and `frame` is unchanged.
    func warpBlend(previous: Frame, into frame: Frame, backward: [Float], trust: [Float], sure: [Float], lowWidth: Int, lowHeight: Int,
                   blend: stylize_blend) -> Bool {
        guard previous.width == frame.width, previous.height == frame.height, previous.format == frame.format,
              let before = Self.planes(of: previous), var now = Self.planes(of: frame), before.count == now.count else { return false }
        return stylize_flow_warp_blend_planes(handle, before, &now, Int32(now.count), backward, trust, sure, Int32(lowWidth), Int32(lowHeight),
                                              blend) == 0
    }
}
