import XCTest
@testable import StylizeKit

final class ReflectPadTests: XCTestCase {
    /// numpy.pad(mode="reflect") / TensorFlow MirrorPad REFLECT: the edge is not repeated.
    func testReflectIndices() {
        XCTAssertEqual((-4..<9).map { ReflectPad.reflect($0, 5) }, [4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0])
        XCTAssertEqual((-1..<3).map { ReflectPad.reflect($0, 2) }, [1, 0, 1, 0])
    }

    func testPadOneChannel() {
        // 2x3 source, pad 1: rows [1,0,1,0], columns [1,0,1,2,1].
        let source: [Float] = [1, 2, 3,
                               4, 5, 6]
        let pad = ReflectPad(height: 2, width: 3, channels: 1, pad: 1)
        var out = [Float](repeating: 0, count: pad.outputHeight * pad.outputWidth)
        source.withUnsafeBufferPointer { s in out.withUnsafeMutableBytes { pad.run(from: s.baseAddress!, to: $0.baseAddress!, type: .f32) } }
        XCTAssertEqual(out, [5, 4, 5, 6, 5,
                             2, 1, 2, 3, 2,
                             5, 4, 5, 6, 5,
                             2, 1, 2, 3, 2])
    }

    /// Nearest x2 upsampling then pad 1, two channels kept together.
    func testUpsampleThenPad() {
        let source: [Float] = [1, 10, 2, 20]  // 1x2 pixels, 2 channels
        let pad = ReflectPad(height: 1, width: 2, channels: 2, pad: 1, upsample: 2)
        XCTAssertEqual([pad.outputHeight, pad.outputWidth], [4, 6])
        var out = [Float](repeating: 0, count: 4 * 6 * 2)
        source.withUnsafeBufferPointer { s in out.withUnsafeMutableBytes { pad.run(from: s.baseAddress!, to: $0.baseAddress!, type: .f32) } }
        // Upsampled row: 1 1 2 2 -> padded: 1 1 1 2 2 2 (reflect of index -1 is 1, of 4 is 2).
        let row: [Float] = [1, 10, 1, 10, 1, 10, 2, 20, 2, 20, 2, 20]
        XCTAssertEqual(out, row + row + row + row)
    }

    func testBF16Output() {
        let source: [Float] = [1, -2.5, 3.14159274, 1e-3]
        let pad = ReflectPad(height: 1, width: 1, channels: 4, pad: 0)
        var out = [UInt16](repeating: 0, count: 4)
        source.withUnsafeBufferPointer { s in out.withUnsafeMutableBytes { pad.run(from: s.baseAddress!, to: $0.baseAddress!, type: .bf16) } }
        let back = out.map { Float(bitPattern: UInt32($0) << 16) }
        XCTAssertEqual(back[0], 1)
        XCTAssertEqual(back[1], -2.5)
        XCTAssertEqual(back[2], 3.140625)  // nearest bf16 to pi
        XCTAssertEqual(back[3], 1e-3, accuracy: 1e-3 / 128)
    }
}
