import CDNNL
import StylizeKernels

/// The copy that feeds each conv: a layer padded by reflection (TensorFlow's MirrorPad
/// "REFLECT", ONNX Pad "reflect") or by repeating its edge, read through the layout it is
/// stored in, with a `FusedStyleNorm` (and ReLU) applied on the way, and converted to the
/// conv's element type. oneDNN pads with zeros only, so every `pad, then VALID conv` layer of
/// the transformer gathers its input here in one pass (StylizeKernels' `stylize_gather`).
///
/// Layouts: NHWC, optionally space-to-depth. A layer stored with P phases holds P x P logical
/// pixels per stored pixel, logical pixel (y, x) at stored (y / P, x / P), channel offset
/// ((y % P) * P + x % P) * channels: the output of a conv rewritten to run at 1/P resolution.
struct PaddingGather {
    let channels: Int
    /// Phases per side of the destination's layout.
    let destinationPhases: Int
    /// Where each output row and column starts in the source, in elements.
    private let rowOffsets: [Int64]
    private let columnOffsets: [Int64]
    /// The logical source row of each output row.
    private let rows: [Int32]
    private let sourcePhases: Int

    var outputHeight: Int { rowOffsets.count }
    var outputWidth: Int { columnOffsets.count }

    /// - Parameters:
    ///   - rows, columns: the logical source row of each output row, column of each output column.
    ///   - sourceWidth: the source's logical width; `sourcePhases` its layout's phases per side.
    init(rows: [Int32], columns: [Int32], channels: Int, sourceWidth: Int, sourcePhases: Int = 1, destinationPhases: Int = 1) {
        precondition(rows.count % destinationPhases == 0 && columns.count % destinationPhases == 0 && sourceWidth % sourcePhases == 0)
        self.channels = channels
        self.destinationPhases = destinationPhases
        self.rows = rows
        self.sourcePhases = sourcePhases
        let p = sourcePhases, pixel = p * p * channels, storedWidth = sourceWidth / p
        rowOffsets = rows.map { Int64((Int($0) / p * storedWidth) * pixel + Int($0) % p * p * channels) }
        columnOffsets = columns.map { Int64(Int($0) / p * pixel + Int($0) % p * channels) }
    }

    /// A memory for this gather's copy (NHWC, in its destination's layout) of `type`, whose
    /// bytes `lender` gives.
    func destination(_ type: DNNLDataType, engine: DNNLEngine, in lender: MemoryLender) throws -> DNNLMemory {
        let p = destinationPhases
        return try DNNLMemory(dnnlMemoryDesc([1, channels * p * p, outputHeight / p, outputWidth / p], type.raw, dnnl_nhwc), engine: engine, in: lender)
    }

    /// Index of `i` in [-pad, n + pad) reflected into [0, n) (the edge is not repeated).
    static func reflect(_ i: Int, _ n: Int) -> Int {
        precondition(n > 1 || i == 0)
        var i = i
        let period = 2 * (n - 1)
        if period > 0 {
            i %= period
            if i < 0 { i += period }
        }
        return i < n ? i : period - i
    }

    /// Reflect padding by `pad` on every side of a logical `height` x `width` source.
    static func reflect(height: Int, width: Int, pad: Int, channels: Int, sourcePhases: Int = 1,
                        destinationPhases: Int = 1) -> PaddingGather {
        func indices(_ n: Int) -> [Int32] { (-pad..<(n + pad)).map { Int32(reflect($0, n)) } }
        return PaddingGather(rows: indices(height), columns: indices(width), channels: channels, sourceWidth: width,
                             sourcePhases: sourcePhases, destinationPhases: destinationPhases)
    }

    /// Edge padding (the border pixel repeated) by `pad` on every side.
    static func edge(height: Int, width: Int, pad: Int, channels: Int, sourcePhases: Int = 1) -> PaddingGather {
        func indices(_ n: Int) -> [Int32] { (-pad..<(n + pad)).map { Int32(min(max($0, 0), n - 1)) } }
        return PaddingGather(rows: indices(height), columns: indices(width), channels: channels, sourceWidth: width, sourcePhases: sourcePhases)
    }

    /// Writes the gathered copy of `source` (of `sourceType`; through `norm` and, with `relu`,
    /// clamped at 0) into `destination` as `type`.
    /// Without a norm, values are multiplied by `factor` (255 for the int8 network's input bytes).
    func run(from source: UnsafeRawPointer, sourceType: DNNLDataType = .f32, to destination: UnsafeMutableRawPointer, type: DNNLDataType,
             norm: FusedStyleNorm? = nil, relu: Bool = false, factor: Float = 1) {
        let scale = norm?.scale ?? [Float](repeating: factor, count: channels), shift = norm?.shift ?? [Float](repeating: 0, count: channels)
        precondition(scale.count == channels && shift.count == channels)
        stylize_gather(source, sourceType == .bf16 ? 1 : 0, rowOffsets, columnOffsets, Int32(channels), Int32(outputHeight),
                       Int32(outputWidth), Int32(destinationPhases), scale, shift, relu ? 1 : 0, destination, type.kernelType)
    }

    /// The copy of a layer of bytes (the int8 network's), each value mapped through its
    /// channel's 256-entry `table` when there is one.
    func run(bytes source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, table: [UInt8]?) {
        precondition(table == nil || table!.count == channels * 256)
        stylize_gather_u8(source.assumingMemoryBound(to: UInt8.self), rowOffsets, columnOffsets, Int32(channels), Int32(outputHeight),
                          Int32(outputWidth), Int32(destinationPhases), table, destination.assumingMemoryBound(to: UInt8.self))
    }

    /// The same copy of a 3-channel picture read from an 8-bit 4:2:0 frame (`picture`, through
    /// `conversion`) instead of RGB floats.
    func run(from picture: stylize_yuv420, conversion: YUV420Conversion, to destination: UnsafeMutableRawPointer, type: DNNLDataType) {
        // Read plainly (no phases), the column offsets are 3 * column: positions in a converted row.
        precondition(channels == 3 && sourcePhases == 1)
        withUnsafePointer(to: picture) {
            stylize_gather_yuv420($0, conversion.toRGB, rows, columnOffsets, Int32(outputHeight), Int32(outputWidth),
                                  Int32(destinationPhases), destination, type.kernelType)
        }
    }
}
