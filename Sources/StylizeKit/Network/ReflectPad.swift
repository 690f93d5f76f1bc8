import Dispatch

/// Reflect padding (TensorFlow's MirrorPad "REFLECT", ONNX Pad mode "reflect") of an NHWC
/// f32 buffer into a larger NHWC buffer, optionally upsampling by nearest neighbour first and
/// converting to bf16 on the way. oneDNN pads with zeros only, so the transformer's
/// `REFLECT-pad then VALID conv` layers gather their input here in one pass.
struct ReflectPad {
    /// Source row for each output row, source column for each output column.
    let rows: [Int32]
    let columns: [Int32]
    let channels: Int
    let sourceWidth: Int

    var outputHeight: Int { rows.count }
    var outputWidth: Int { columns.count }

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

    /// Source indices for a dimension of `size` (after `upsample`), padded by `before`/`after`.
    static func indices(size: Int, upsample: Int, before: Int, after: Int) -> [Int32] {
        (-before..<(size * upsample + after)).map { Int32(reflect($0, size * upsample) / upsample) }
    }

    /// - Parameters:
    ///   - height, width: the source size. `upsample` repeats each source pixel (nearest
    ///     neighbour) before padding by `pad` on every side.
    init(height: Int, width: Int, channels: Int, pad: Int, upsample: Int = 1) {
        rows = Self.indices(size: height, upsample: upsample, before: pad, after: pad)
        columns = Self.indices(size: width, upsample: upsample, before: pad, after: pad)
        self.channels = channels
        sourceWidth = width
    }

    /// A gather with explicit index tables (for example the input's padding to a multiple of 4
    /// composed with the first layer's padding).
    init(rows: [Int32], columns: [Int32], channels: Int, sourceWidth: Int) {
        self.rows = rows
        self.columns = columns
        self.channels = channels
        self.sourceWidth = sourceWidth
    }

    /// Writes the padded copy of `source` into `destination` as `type`.
    func run(from source: UnsafePointer<Float>, to destination: UnsafeMutableRawPointer, type: DNNLDataType) {
        let rowCount = rows.count
        let chunks = min(rowCount, 8)
        rows.withUnsafeBufferPointer { rows in
            columns.withUnsafeBufferPointer { columns in
                let rows = UncheckedSendable(rows), columns = UncheckedSendable(columns)
                let source = UncheckedSendable(source), destination = UncheckedSendable(destination)
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let start = rowCount * chunk / chunks, end = rowCount * (chunk + 1) / chunks
                    for y in start..<end {
                        copyRow(y, rows: rows.value, columns: columns.value, source: source.value, destination: destination.value, type: type)
                    }
                }
            }
        }
    }

    @inline(__always)
    private func copyRow(_ y: Int, rows: UnsafeBufferPointer<Int32>, columns: UnsafeBufferPointer<Int32>,
                         source: UnsafePointer<Float>, destination: UnsafeMutableRawPointer, type: DNNLDataType) {
        let c = channels
        let sourceRow = source + Int(rows[y]) * sourceWidth * c
        let width = columns.count
        switch type {
        case .f32:
            let out = destination.assumingMemoryBound(to: Float.self) + y * width * c
            for x in 0..<width {
                (out + x * c).update(from: sourceRow + Int(columns[x]) * c, count: c)
            }
        case .bf16:
            let out = destination.assumingMemoryBound(to: UInt16.self) + y * width * c
            for x in 0..<width {
                let from = sourceRow + Int(columns[x]) * c, to = out + x * c
                for k in 0..<c { to[k] = bfloat16(from[k]) }
            }
        }
    }
}

/// Rounds to the nearest bf16 (ties to even), the same rounding oneDNN's reorders use.
@inline(__always)
func bfloat16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}

/// Carries a value the caller knows is safe across `concurrentPerform` (disjoint writes).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
