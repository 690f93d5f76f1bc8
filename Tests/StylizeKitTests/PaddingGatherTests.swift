import StylizeKernels
import XCTest
@testable import StylizeKit

final class PaddingGatherTests: XCTestCase {
    func gather(_ g: PaddingGather, _ source: [Float], norm: FusedStyleNorm? = nil, relu: Bool = false) -> [Float] {
        var out = [Float](repeating: .nan, count: g.outputHeight * g.outputWidth * g.channels)
        source.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBytes { g.run(from: s.baseAddress!, to: $0.baseAddress!, type: .f32, norm: norm, relu: relu) }
        }
        return out
    }

    /// numpy.pad(mode="reflect") / TensorFlow MirrorPad REFLECT: the edge is not repeated.
    func testReflectIndices() {
        XCTAssertEqual((-4..<9).map { PaddingGather.reflect($0, 5) }, [4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0])
        XCTAssertEqual((-1..<3).map { PaddingGather.reflect($0, 2) }, [1, 0, 1, 0])
    }

    func testReflectPadOneChannel() {
        // 2x3 source, pad 1: rows [1,0,1,0], columns [1,0,1,2,1].
        let source: [Float] = [1, 2, 3,
                               4, 5, 6]
        XCTAssertEqual(gather(.reflect(height: 2, width: 3, pad: 1, channels: 1), source),
                       [5, 4, 5, 6, 5,
                        2, 1, 2, 3, 2,
                        5, 4, 5, 6, 5,
                        2, 1, 2, 3, 2])
    }

    func testEdgePadKeepsChannelsTogether() {
        let source: [Float] = [1, 10, 2, 20]  // 1x2 pixels, 2 channels
        let row: [Float] = [1, 10, 1, 10, 2, 20, 2, 20]
        XCTAssertEqual(gather(.edge(height: 1, width: 2, pad: 1, channels: 2), source), row + row + row)
    }

    /// A source stored as 2x2 phases: logical pixel (y, x) at stored (y/2, x/2), channel offset
    /// ((y%2)*2 + x%2) * C. A 2x4 logical image of 1 channel is stored as 1x2 pixels of 4 values.
    func testReadsThroughPhases() {
        let logical: [Float] = [0, 1, 2, 3,
                                4, 5, 6, 7]
        let stored: [Float] = [0, 1, 4, 5, 2, 3, 6, 7]
        let identity = PaddingGather(rows: [0, 1], columns: [0, 1, 2, 3], channels: 1, sourceWidth: 4, sourcePhases: 2)
        XCTAssertEqual(gather(identity, stored), logical)
        // And back: writing space-to-depth is the inverse.
        let toPhases = PaddingGather(rows: [0, 1], columns: [0, 1, 2, 3], channels: 1, sourceWidth: 4, destinationPhases: 2)
        XCTAssertEqual(gather(toPhases, logical), stored)
        // Reflect padding of the logical picture, read through the phases.
        let padded = gather(.reflect(height: 2, width: 4, pad: 1, channels: 1, sourcePhases: 2), stored)
        XCTAssertEqual(Array(padded[0..<6]), [5, 4, 5, 6, 7, 6])
    }

    func testNormAndReluApplied() {
        let norm = FusedStyleNorm(channels: 2, epsilon: 0)
        norm.set(gamma: [1, 2], beta: [0, 1])
        // Channel 0: values -1, 1 (mean 0, variance 1); channel 1: 2, 6 (mean 4, variance 4).
        let source: [Float] = [-1, 2, 1, 6]
        source.withUnsafeBufferPointer { norm.measure($0.baseAddress!, pixels: 2) }
        XCTAssertEqual(norm.scale, [1, 1])
        XCTAssertEqual(norm.shift, [0, -3])
        let g = PaddingGather(rows: [0], columns: [0, 1], channels: 2, sourceWidth: 2)
        XCTAssertEqual(gather(g, source, norm: norm), [-1, -1, 1, 3])
        XCTAssertEqual(gather(g, source, norm: norm, relu: true), [0, 0, 1, 3])
    }

    /// Statistics over many pixels and phases agree with a direct computation in Double.
    func testMomentsOverPhasesMatchDirectComputation() {
        var rng = SystemRandomNumberGenerator()
        let channels = 3, phaseCount = 16, pixels = 5000
        let values = (0..<pixels * phaseCount * channels).map { _ in Float.random(in: -2...5, using: &rng) }
        let norm = FusedStyleNorm(channels: channels, epsilon: 1e-5, phaseCount: phaseCount)
        norm.set(gamma: [1, 1, 1], beta: [0, 0, 0])
        values.withUnsafeBufferPointer { norm.measure($0.baseAddress!, pixels: pixels) }
        for c in 0..<channels {
            let mine = stride(from: c, to: values.count, by: channels).map { Double(values[$0]) }
            let mean = mine.reduce(0, +) / Double(mine.count)
            let variance = mine.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(mine.count)
            let scale = 1 / (variance + 1e-5).squareRoot()
            XCTAssertEqual(Double(norm.scale[c]), scale, accuracy: scale * 1e-5)
            XCTAssertEqual(Double(norm.shift[c]), -mean * scale, accuracy: 1e-5)
        }
    }

    func testBF16Output() {
        // 1 + 2^-8 + 2^-10 lies past the midpoint between bf16 neighbours 1 and 1 + 2^-7:
        // rounding gives 1.0078125, truncation 1.
        let source: [Float] = [1, -2.5, 3.14159274, 1e-3, 1.0048828125, 1, 1, 1]
        let g = PaddingGather(rows: [0], columns: [0], channels: 8, sourceWidth: 1)
        var out = [UInt16](repeating: 0, count: 8)
        source.withUnsafeBufferPointer { s in out.withUnsafeMutableBytes { g.run(from: s.baseAddress!, to: $0.baseAddress!, type: .bf16) } }
        let back = out.map { Float(bitPattern: UInt32($0) << 16) }
        XCTAssertEqual(back[0], 1)
        XCTAssertEqual(back[1], -2.5)
        XCTAssertEqual(back[2], 3.140625)  // nearest bf16 to pi
        XCTAssertEqual(back[3], 1e-3, accuracy: 1e-3 / 128)
        XCTAssertEqual(back[4], 1.0078125, "rounded to nearest, not truncated")
    }

    /// RGB pictures in and out of the network (3 channels, into space-to-depth and out of it,
    /// reflected edges, a width that is not a multiple of 4, a norm and ReLU), value by value
    /// against the definition, in f32 and bf16.
    func testThreeChannelsAgainstTheDefinition() {
        var rng = SystemRandomNumberGenerator()
        let (width, height) = (26, 10)
        let source = (0..<width * height * 3).map { _ in Float.random(in: -1...1, using: &rng) }
        let norm = FusedStyleNorm(channels: 3, epsilon: 0)
        norm.set(gamma: [1, 2, 0.5], beta: [0.1, -0.2, 0.3])
        source.withUnsafeBufferPointer { norm.measure($0.baseAddress!, pixels: width * height) }
        let toPhases = PaddingGather.reflect(height: height, width: width, pad: 3, channels: 3, destinationPhases: 4)  // 32 x 16
        let rows = (-3..<height + 3).map { PaddingGather.reflect($0, height) }, columns = (-3..<width + 3).map { PaddingGather.reflect($0, width) }
        for useNorm in [false, true] {
            let expected: [Float] = rows.flatMap { y in
                columns.flatMap { x in
                    (0..<3).map { c -> Float in
                        let v = source[(y * width + x) * 3 + c]
                        return useNorm ? max(v * norm.scale[c] + norm.shift[c], 0) : v
                    }
                }
            }
            // Read back through the phases with a plain gather, cropped to 23 columns: the f32
            // round trip is exact.
            let stored = gather(toPhases, source, norm: useNorm ? norm : nil, relu: useNorm)
            let fromPhases = PaddingGather(rows: (0..<rows.count).map(Int32.init), columns: (0..<23).map(Int32.init), channels: 3,
                                           sourceWidth: columns.count, sourcePhases: 4)
            let rowLength = columns.count * 3
            let cropped: [Float] = (0..<rows.count).flatMap { (y: Int) -> ArraySlice<Float> in expected[y * rowLength..<y * rowLength + 69] }
            let back = gather(fromPhases, stored)
            XCTAssertEqual(back.count, cropped.count)
            // The kernel may fuse the norm's multiply and add: one rounding less.
            XCTAssertLessThanOrEqual(zip(back, cropped).map { abs($0 - $1) }.max()!, 1e-6, "norm \(useNorm)")
            var half = [UInt16](repeating: 0, count: stored.count)
            source.withUnsafeBufferPointer { s in
                half.withUnsafeMutableBytes { toPhases.run(from: s.baseAddress!, to: $0.baseAddress!, type: .bf16, norm: useNorm ? norm : nil, relu: useNorm) }
            }
            let widened = half.map { Float(bitPattern: UInt32($0) << 16) }
            XCTAssertLessThanOrEqual(zip(widened, stored).map { abs($0 - $1) - abs($1) / 256 }.max()!, 0, "bf16, norm \(useNorm)")
        }
    }

    /// Bytes out (the int8 network's input): each value times `factor`, rounded to the nearest
    /// integer with ties to even (as QuantizeLinear), clamped to 0...255; on the 8-channel vector
    /// path and the 3-channel one alike.
    func testByteOutputRoundsTiesToEvenAndClamps() {
        let values: [Float] = [-1, 0.4, 0.5, 1.5, 2.5, 254.6, 300, 127.5]
        let expected: [UInt8] = [0, 0, 0, 2, 2, 255, 255, 128]
        for channels in [8, 3] {
            let source = Array((0..<(4 * channels)).map { values[$0 % values.count] })
            let g = PaddingGather(rows: [0], columns: [0, 1, 2, 3], channels: channels, sourceWidth: 4)
            var out = [UInt8](repeating: 7, count: 4 * channels)
            source.withUnsafeBufferPointer { s in out.withUnsafeMutableBytes { g.run(from: s.baseAddress!, to: $0.baseAddress!, type: .u8) } }
            XCTAssertEqual(out, (0..<(4 * channels)).map { expected[$0 % expected.count] }, "\(channels) channels")
        }
        // The factor: 8-bit pictures' values come back as their bytes.
        let g = PaddingGather(rows: [0], columns: [0, 1], channels: 3, sourceWidth: 2)
        let bytes: [Float] = [0, 1, 17, 128, 254, 255]
        var out = [UInt8](repeating: 7, count: 6)
        bytes.map { $0 / 255 }.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBytes { g.run(from: s.baseAddress!, to: $0.baseAddress!, type: .u8, factor: 255) }
        }
        XCTAssertEqual(out, bytes.map { UInt8($0) })
    }

    /// A gather of bytes through a table per channel, reflect-padded across.
    func testByteGatherThroughTables() {
        let g = PaddingGather(rows: [0, 0, 0], columns: [1, 0, 1, 2, 1], channels: 2, sourceWidth: 3)
        let source: [UInt8] = [0, 1, 2, 3, 4, 5]  // pixels (0, 1), (2, 3), (4, 5)
        var table = [UInt8](repeating: 0, count: 512)
        for i in 0..<512 { table[i] = UInt8(truncatingIfNeeded: (i % 256) * 3 + (i / 256) * 100) }
        var out = [UInt8](repeating: 0, count: g.outputHeight * g.outputWidth * 2)
        source.withUnsafeBytes { s in out.withUnsafeMutableBytes { g.run(bytes: s.baseAddress!, to: $0.baseAddress!, table: table) } }
        // Columns -1, 0, 1, 2, 3 reflected: 1, 0, 1, 2, 1.
        let plainRow: [Int] = [2, 3, 0, 1, 2, 3, 4, 5, 2, 3]
        let row: [UInt8] = plainRow.indices.map { i in table[i % 2 * 256 + plainRow[i]] }
        XCTAssertEqual(out, row + row + row)
        var plain = [UInt8](repeating: 0, count: out.count)
        source.withUnsafeBytes { s in plain.withUnsafeMutableBytes { g.run(bytes: s.baseAddress!, to: $0.baseAddress!, table: nil) } }
        XCTAssertEqual(Array(plain[0..<10]), [2, 3, 0, 1, 2, 3, 4, 5, 2, 3])
    }

    /// The kernels' clone follows ONEDNN_MAX_CPU_ISA as oneDNN's kernels do: .ci/run runs these
    /// gathers and the fidelity tests with both limited to AVX2.
    func testKernelClonesFollowOneDNNsInstructionSetLimit() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        let best = flags.contains("avx512f") ? 2 : flags.contains("avx2") ? 1 : 0
        let limit = (ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"] ?? "").uppercased()
        let expected = limit.hasPrefix("AVX2") ? min(best, 1) : ["SSE41", "AVX"].contains(limit) ? 0 : best
        print("kernel clone level \(stylize_clone_level()) (ONEDNN_MAX_CPU_ISA=\(limit.isEmpty ? "unset" : limit))")
        XCTAssertEqual(Int(stylize_clone_level()), expected)
    }
}
