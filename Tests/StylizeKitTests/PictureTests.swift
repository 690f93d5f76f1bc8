import XCTest
@testable import StylizeKit

final class PictureTests: XCTestCase {
    func testGreyPGMBecomesGreyRGB() throws {
        let picture = try Picture(contentsOf: TestSupport.fixture("grey_4x3.pgm"))
        XCTAssertEqual([picture.width, picture.height], [4, 3])
        let grey: [UInt16] = [0, 64, 128, 255, 10, 20, 30, 40, 255, 254, 1, 2]
        XCTAssertEqual(picture.samples, grey.flatMap { [$0 * 257, $0 * 257, $0 * 257] })
    }

    func testSixteenBitPNGKeepsEverySample() throws {
        let picture = try Picture(contentsOf: TestSupport.fixture("rgb16_5x3.png"))
        let data = try Data(contentsOf: TestSupport.fixture("rgb16_5x3.u16"))
        let expected = data.withUnsafeBytes { b in (0..<data.count / 2).map { UInt16(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) } }
        XCTAssertEqual([picture.width, picture.height], [5, 3])
        XCTAssertEqual(picture.samples, expected)
    }

    func testAlphaIsCompositedOverWhite() throws {
        let picture = try Picture(contentsOf: TestSupport.fixture("rgba_2x2.png"))
        let s = picture.samples.map { Int($0) }
        XCTAssertEqual(Array(s[0..<3]), [65535, 0, 0])            // opaque red
        XCTAssertEqual(Array(s[3..<6]), [65535, 65535, 65535])    // transparent: white
        for v in s[6..<9] { XCTAssertEqual(Double(v), 65535 * (1 - 128.0 / 255), accuracy: 2) }  // half black over white
        XCTAssertEqual(Array(s[9..<12]), [0, 65535, 0])           // opaque green
    }

    func testEightBitValuesMapExactlyToNetworkRange() throws {
        let image = try Picture(contentsOf: TestSupport.fixture("grey_4x3.pgm")).rgbImage
        XCTAssertEqual(image.pixels[3], 64 / 255, accuracy: 1e-7)
        XCTAssertEqual(image.pixels[9], 1)
    }

    func testPNGRoundTripIsExact() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let original = try Picture(contentsOf: TestSupport.fixture("content_101x66.png"))
        let url = dir.appendingPathComponent("copy.png")
        try original.write(to: url, overwrite: false)
        XCTAssertEqual(try Picture(contentsOf: url), original)
    }

    func testJPEGIsWrittenAndReadable() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let original = try Picture(contentsOf: TestSupport.fixture("content_96x96.png"))
        let url = dir.appendingPathComponent("copy.jpg")
        try original.write(to: url, overwrite: false)
        let back = try Picture(contentsOf: url)
        XCTAssertEqual([back.width, back.height], [96, 96])
        XCTAssertGreaterThan(back.rgbImage.psnr(original.rgbImage), 30, "quality 2 JPEG stays close to its source")
    }

    func testWriteRefusesToOverwriteAndUnknownFormats() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let picture = try Picture(contentsOf: TestSupport.fixture("grey_4x3.pgm"))
        let url = dir.appendingPathComponent("out.png")
        try "keep me".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try picture.write(to: url, overwrite: false)) { XCTAssertEqual($0 as? StylizeError, .outputExists(url.path)) }
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "keep me")
        try picture.write(to: url, overwrite: true)
        XCTAssertEqual(try Picture(contentsOf: url), picture)
        XCTAssertThrowsError(try picture.write(to: dir.appendingPathComponent("out.gif"), overwrite: false))
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), ["out.png"])
    }

    func testCentreSquareAndResize() throws {
        let picture = try Picture(contentsOf: TestSupport.fixture("content_101x66.png"))
        let square = picture.centreSquare
        XCTAssertEqual([square.width, square.height], [66, 66])
        XCTAssertEqual(square, picture.cropped(x: 17, y: 0, width: 66, height: 66))
        let small = try square.resized(width: 33, height: 33)
        XCTAssertEqual([small.width, small.height], [33, 33])
        // Area averaging by two: each output pixel is close to the mean of its 2x2 block.
        let block = [0, 1, 66, 67].map { Double(square.samples[$0 * 3]) }
        let mean = block.reduce(0, +) / 4
        XCTAssertEqual(Double(small.samples[0]), mean, accuracy: 65535 * 0.02)
    }

    /// One white pixel on black, halved: area averaging puts a quarter of it into its own 2x2
    /// block's pixel and nothing into the others; a bilinear (tent) filter would spread it.
    func testShrinkingAveragesAreasOnly() throws {
        var samples = [UInt16](repeating: 0, count: 8 * 8 * 3)
        for c in 0..<3 { samples[(2 * 8 + 2) * 3 + c] = 65535 }
        let small = try Picture(width: 8, height: 8, samples: samples).resized(width: 4, height: 4)
        for y in 0..<4 {
            for x in 0..<4 {
                let expected = (x, y) == (1, 1) ? 65535.0 / 4 : 0
                XCTAssertEqual(Double(small.samples[(y * 4 + x) * 3]), expected, accuracy: 65535 * 0.004, "pixel \(x),\(y)")
            }
        }
    }

    func testMissingAndUnreadableFiles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        XCTAssertThrowsError(try Picture(contentsOf: dir.appendingPathComponent("nope.png"))) {
            XCTAssertEqual($0 as? StylizeError, .fileNotFound(dir.appendingPathComponent("nope.png").path))
        }
        let text = dir.appendingPathComponent("notes.png")
        try String(repeating: "this is not a picture\n", count: 20).write(to: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Picture(contentsOf: text)) { error in
            guard case StylizeError.unreadable = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Picture(contentsOf: dir)) { error in
            guard case StylizeError.unreadable = error else { return XCTFail("\(error)") }
        }
    }
}
