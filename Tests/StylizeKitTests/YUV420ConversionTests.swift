import CFFmpeg
import StylizeKernels
import XCTest
@testable import StylizeKit

/// The network's own 4:2:0 input and output (`YUV420Conversion`): checked against a per-pixel
/// reference written from the definitions, and against swscale, which `FrameConverter` uses for
/// every other format.
final class YUV420ConversionTests: XCTestCase {
    func colors(_ matrix: AVColorSpace, _ range: AVColorRange) -> VideoColors {
        VideoColors(matrix: matrix, range: range, primaries: AVCOL_PRI_UNSPECIFIED, transfer: AVCOL_TRC_UNSPECIFIED, height: 360)
    }

    func conversion(_ matrix: AVColorSpace = AVCOL_SPC_BT709, _ range: AVColorRange = AVCOL_RANGE_MPEG,
                    _ location: AVChromaLocation = AVCHROMA_LOC_LEFT, _ format: AVPixelFormat = AV_PIX_FMT_YUV420P) throws -> YUV420Conversion {
        try XCTUnwrap(YUV420Conversion(format: format, colors: colors(matrix, range), chromaLocation: location))
    }

    /// A 3-row-by-4 matrix applied to (a, b, c, 1).
    func apply(_ m: [Float], _ v: [Float]) -> [Float] {
        (0..<3).map { i in
            let products: [Float] = (0..<3).map { m[4 * i + $0] * v[$0] }
            return products.reduce(m[4 * i + 3], +)
        }
    }

    /// (Y, U, V) of one RGB colour, rounded as the kernel rounds (to the conversion's depth).
    func yuv(_ c: YUV420Conversion, _ rgb: [Float]) -> [Int] {
        apply(c.toYUV, rgb).map { Int(min(max($0, 0), Float((1 << c.depth) - 1)) + 0.5) }
    }

    /// Published codes of primaries: BT.709 limited range (ITU-R BT.709 table), BT.601 full
    /// range (JPEG/JFIF), and each matrix's round trip.
    func testMatricesGivePublishedCodes() throws {
        let bt709 = try conversion()
        XCTAssertEqual(yuv(bt709, [1, 0, 0]), [63, 102, 240])
        XCTAssertEqual(yuv(bt709, [0, 1, 0]), [173, 42, 26])
        XCTAssertEqual(yuv(bt709, [1, 1, 1]), [235, 128, 128])
        XCTAssertEqual(yuv(bt709, [0, 0, 0]), [16, 128, 128])
        let jpeg = try XCTUnwrap(YUV420Conversion(format: AV_PIX_FMT_YUVJ420P, colors: colors(AVCOL_SPC_BT470BG, AVCOL_RANGE_UNSPECIFIED),
                                                  chromaLocation: AVCHROMA_LOC_CENTER))
        XCTAssertEqual(yuv(jpeg, [1, 0, 0]), [76, 85, 255])
        XCTAssertEqual(yuv(jpeg, [0, 0, 1]), [29, 255, 107])
        XCTAssertFalse(jpeg.chromaCosited)
        // 10 bits: the 8-bit codes times 4 (BT.709's 10-bit values), full range up to 1023.
        let deep = try conversion(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT, AV_PIX_FMT_YUV420P10LE)
        XCTAssertEqual(deep.depth, 10)
        XCTAssertEqual(yuv(deep, [1, 0, 0]), [250, 409, 960])
        XCTAssertEqual(yuv(deep, [1, 1, 1]), [940, 512, 512])
        XCTAssertEqual(yuv(deep, [0, 0, 0]), [64, 512, 512])
        XCTAssertEqual(yuv(try conversion(AVCOL_SPC_BT709, AVCOL_RANGE_JPEG, AVCHROMA_LOC_LEFT, AV_PIX_FMT_YUV420P10LE), [1, 1, 1]), [1023, 512, 512])
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE] {
            for matrix in [AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M, AVCOL_SPC_BT2020_NCL] {
                for range in [AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG] {
                    let c = try conversion(matrix, range, AVCHROMA_LOC_LEFT, format)
                    for rgb: [Float] in [[0.2, 0.5, 0.9], [1, 0.3, 0], [0.5, 0.5, 0.5]] {
                        let back = apply(c.toRGB, apply(c.toYUV, rgb))
                        for i in 0..<3 { XCTAssertEqual(back[i], rgb[i], accuracy: 1e-5, "\(matrix) \(range) \(c.depth) bits") }
                    }
                }
            }
        }
        // Left to swscale: other matrices, 12 bits, big-endian words, chroma sited on a luma row.
        XCTAssertNil(YUV420Conversion(format: AV_PIX_FMT_YUV420P, colors: colors(AVCOL_SPC_SMPTE240M, AVCOL_RANGE_MPEG), chromaLocation: AVCHROMA_LOC_LEFT))
        XCTAssertNil(YUV420Conversion(format: AV_PIX_FMT_YUV420P12LE, colors: colors(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), chromaLocation: AVCHROMA_LOC_LEFT))
        XCTAssertNil(YUV420Conversion(format: AV_PIX_FMT_YUV420P10BE, colors: colors(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), chromaLocation: AVCHROMA_LOC_LEFT))
        XCTAssertNil(YUV420Conversion(format: AV_PIX_FMT_YUV420P, colors: colors(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), chromaLocation: AVCHROMA_LOC_TOPLEFT))
    }

    /// A natural picture as a 4:2:0 frame (swscale's conversion), cropped to `width` x `height`.
    func naturalFrame(width: Int, height: Int, colors: VideoColors, format: AVPixelFormat = AV_PIX_FMT_YUV420P) throws -> Frame {
        let picture = try Picture(contentsOf: TestSupport.fixture("style_400x300.png")).cropped(x: 37, y: 21, width: width, height: height)
        return try FrameConverter().frame(from: picture.rgbImage, width: width, height: height, format: format, colors: colors)
    }

    /// Sample (x, y) of a plane of `depth`-bit samples (16-bit words above 8 bits).
    func sample(_ plane: UnsafeMutablePointer<UInt8>, _ stride: Int, _ x: Int, _ y: Int, depth: Int) -> Float {
        depth > 8 ? Float(UnsafeRawPointer(plane + y * stride).assumingMemoryBound(to: UInt16.self)[x]) : Float(plane[y * stride + x])
    }

    /// The frame as RGB, written from the definition: chroma rows halfway between luma rows,
    /// columns on the even luma columns (cosited) or halfway; Catmull-Rom cubics, edges held.
    func referenceRGB(_ frame: Frame, _ c: YUV420Conversion) -> RGBImage {
        let f = frame.pointer.pointee, (width, height) = (frame.width, frame.height)
        let (cw, ch) = ((width + 1) / 2, (height + 1) / 2)
        func weights(_ t: Float) -> [Float] {
            [(-t * t * t + 2 * t * t - t) / 2, (3 * t * t * t - 5 * t * t + 2) / 2, (-3 * t * t * t + 4 * t * t + t) / 2, (t * t * t - t * t) / 2]
        }
        func chroma(_ plane: Int, _ x: Int, _ y: Int) -> Float {
            let data = plane == 1 ? f.data.1! : f.data.2!, stride = Int(plane == 1 ? f.linesize.1 : f.linesize.2)
            func at(_ i: Int, _ j: Int) -> Float { sample(data, stride, min(max(i, 0), cw - 1), min(max(j, 0), ch - 1), depth: c.depth) }
            let cy = (Float(y) + 0.5) / 2 - 0.5, cx = c.chromaCosited ? Float(x) / 2 : (Float(x) + 0.5) / 2 - 0.5
            let (i, j) = (Int(cx.rounded(.down)), Int(cy.rounded(.down)))
            let (wx, wy) = (weights(cx - Float(i)), weights(cy - Float(j)))
            var sum: Float = 0
            for b in 0..<4 { for a in 0..<4 { sum += wy[b] * wx[a] * at(i - 1 + a, j - 1 + b) } }
            return sum
        }
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let rgb = apply(c.toRGB, [sample(f.data.0!, Int(f.linesize.0), x, y, depth: c.depth), chroma(1, x, y), chroma(2, x, y)])
                for i in 0..<3 { pixels[(y * width + x) * 3 + i] = min(max(rgb[i], 0), 1) }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    func gathered(_ gather: PaddingGather, _ image: RGBImage) -> [Float] {
        var out = [Float](repeating: .nan, count: gather.outputHeight * gather.outputWidth * 3)
        image.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBytes { gather.run(from: s.baseAddress!, to: $0.baseAddress!, type: .f32) }
        }
        return out
    }

    func gathered(_ gather: PaddingGather, _ frame: Frame, _ c: YUV420Conversion) -> [Float] {
        var out = [Float](repeating: .nan, count: gather.outputHeight * gather.outputWidth * 3)
        out.withUnsafeMutableBytes { gather.run(from: c.picture(of: frame), conversion: c, to: $0.baseAddress!, type: .f32) }
        return out
    }

    /// The fused gather is "convert, then gather": odd and even sizes, both sitings, plain and
    /// space-to-depth destinations, 8 and 10 bits.
    func testInputGatherFollowsTheDefinition() throws {
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE] {
            for location in [AVCHROMA_LOC_LEFT, AVCHROMA_LOC_CENTER] {
                let c = try conversion(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, location, format)
                for (width, height, pad, phases) in [(101, 67, 2, 1), (102, 66, 1, 4), (9, 8, 4, 1)] {
                    let frame = try naturalFrame(width: width, height: height, colors: colors(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), format: format)
                    let gather = PaddingGather.reflect(height: height, width: width, pad: pad, channels: 3, destinationPhases: phases)
                    let (mine, reference) = (gathered(gather, frame, c), gathered(gather, referenceRGB(frame, c)))
                    let worst = zip(mine, reference).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(worst, 1e-5, "\(width)x\(height), chroma \(location), \(c.depth) bits")
                }
            }
        }
    }

    /// And it agrees with swscale's conversion: exactly where the chroma is flat (the matrices and
    /// ranges), closely on a photo (swscale's chroma filter is its bicubic, and it takes chroma
    /// as centred whatever the frame says).
    func testInputGatherAgreesWithSwscale() throws {
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE] {
            for (matrix, range) in [(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), (AVCOL_SPC_SMPTE170M, AVCOL_RANGE_JPEG), (AVCOL_SPC_BT2020_NCL, AVCOL_RANGE_MPEG)] {
                let (width, height) = (101, 66)
                let photo = try Picture(contentsOf: TestSupport.fixture("content_101x66.png")).rgbImage
                let frame = try FrameConverter().frame(from: photo, width: width, height: height, format: format, colors: colors(matrix, range))
                let c = try XCTUnwrap(YUV420Conversion(of: frame))
                let gather = PaddingGather.reflect(height: height, width: width, pad: 0, channels: 3)
                func compare(_ what: String, minimum: Double) throws {
                    let mine = RGBImage(width: width, height: height, pixels: gathered(gather, frame, c))
                    let psnr = mine.psnr(try FrameConverter().rgbImage(from: frame, width: width, height: height))
                    print("input, \(what), \(String(cString: av_color_space_name(matrix))) \(String(cString: av_color_range_name(range))),"
                          + " \(c.depth) bits: \(psnr) dB from swscale")
                    XCTAssertGreaterThan(psnr, minimum, "\(what), \(c.depth) bits")
                }
                try compare("photo", minimum: 45)
                // Flat chroma: the same codes, times 4 at 10 bits.
                let f = frame.pointer.pointee, scale = 1 << (c.depth - 8)
                for (plane, stride, value) in [(f.data.1!, Int(f.linesize.1), 90), (f.data.2!, Int(f.linesize.2), 200)] {
                    for j in 0..<(height + 1) / 2 {
                        for i in 0..<(width + 1) / 2 {
                            if c.depth > 8 {
                                UnsafeMutableRawPointer(plane + j * stride).assumingMemoryBound(to: UInt16.self)[i] = UInt16(value * scale)
                            } else {
                                plane[j * stride + i] = UInt8(value)
                            }
                        }
                    }
                }
                try compare("flat chroma", minimum: 50)
            }
        }
    }

    /// A photo as the network leaves its output: padded (reflected) to a multiple of 4 and stored
    /// space-to-depth, 4 x 4 pixels a stored pixel.
    func networkOutput(width: Int, height: Int) throws -> (image: RGBImage, stored: [Float], storedWidth: Int) {
        let photo = try Picture(contentsOf: TestSupport.fixture("style_400x300.png")).cropped(x: 60, y: 40, width: width, height: height).rgbImage
        let (w4, h4) = ((width + 3) / 4 * 4, (height + 3) / 4 * 4)
        let gather = PaddingGather(rows: (0..<h4).map { Int32(PaddingGather.reflect($0, height)) },
                                   columns: (0..<w4).map { Int32(PaddingGather.reflect($0, width)) },
                                   channels: 3, sourceWidth: width, destinationPhases: 4)
        return (photo, gathered(gather, photo), w4 / 4)
    }

    func directFrame(_ output: (image: RGBImage, stored: [Float], storedWidth: Int), _ c: YUV420Conversion) throws -> Frame {
        let frame = try Frame(width: output.image.width, height: output.image.height, format: AV_PIX_FMT_YUV420P)
        var picture = c.picture(of: frame)
        stylize_yuv420_from_phases(output.stored, 4, Int32(output.storedWidth), c.toYUV, &picture)
        return frame
    }

    /// The 4:2:0 output follows the definition: each pixel's luma; each chroma sample the average
    /// of the two rows it sits between, across 1/4, 1/2, 1/4 around its column (cosited) or 1/2,
    /// 1/2 (centred), edges held. Within one level (the kernel sums in another order).
    func testOutputFollowsTheDefinition() throws {
        for location in [AVCHROMA_LOC_LEFT, AVCHROMA_LOC_CENTER] {
            let c = try conversion(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, location)
            for (width, height) in [(101, 67), (104, 68), (9, 10)] {
                let output = try networkOutput(width: width, height: height)
                let frame = try directFrame(output, c)
                let f = frame.pointer.pointee, image = output.image
                func code(_ x: Int, _ y: Int) -> [Float] {
                    let (x, y) = (min(max(x, 0), width - 1), min(max(y, 0), height - 1))
                    return apply(c.toYUV, Array(image.pixels[(y * width + x) * 3..<(y * width + x) * 3 + 3]))
                }
                func byte(_ v: Float) -> Int { Int(min(max(v, 0), 255) + 0.5) }
                var worst = 0
                for y in 0..<height {
                    for x in 0..<width { worst = max(worst, abs(Int(f.data.0![y * Int(f.linesize.0) + x]) - byte(code(x, y)[0]))) }
                }
                let taps: [(Int, Float)] = c.chromaCosited ? [(-1, 0.25), (0, 0.5), (1, 0.25)] : [(0, 0.5), (1, 0.5)]
                for j in 0..<(height + 1) / 2 {
                    for i in 0..<(width + 1) / 2 {
                        var sum: [Float] = [0, 0, 0]
                        for (dx, w) in taps {
                            for dy in 0..<2 {
                                let v = code(2 * i + dx, 2 * j + dy)
                                for k in 1..<3 { sum[k] += w * v[k] / 2 }
                            }
                        }
                        worst = max(worst, abs(Int(f.data.1![j * Int(f.linesize.1) + i]) - byte(sum[1])),
                                    abs(Int(f.data.2![j * Int(f.linesize.2) + i]) - byte(sum[2])))
                    }
                }
                XCTAssertLessThanOrEqual(worst, 1, "\(width)x\(height), chroma \(location)")
            }
        }
    }

    /// And it keeps as much of the picture as swscale's does: the same luma, and chroma that,
    /// read back as it was written (here by the input gather, left-sited; swscale takes chroma as
    /// centred), is as close to the RGB it came from. Measured on a painting's fine texture,
    /// where chroma filters differ most.
    func testOutputKeepsAsMuchAsSwscale() throws {
        for (matrix, range) in [(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), (AVCOL_SPC_SMPTE170M, AVCOL_RANGE_JPEG)] {
            let output = try networkOutput(width: 101, height: 67)
            let c = try conversion(matrix, range, AVCHROMA_LOC_LEFT)
            let converter = FrameConverter()
            let mine = try directFrame(output, c), swscale = try converter.frame(from: output.image, width: 101, height: 67,
                                                                                 format: AV_PIX_FMT_YUV420P, colors: colors(matrix, range))
            let f = mine.pointer.pointee, g = swscale.pointer.pointee
            var lumaWorst = 0
            for y in 0..<67 {
                for x in 0..<101 { lumaWorst = max(lumaWorst, abs(Int(f.data.0![y * Int(f.linesize.0) + x]) - Int(g.data.0![y * Int(g.linesize.0) + x]))) }
            }
            let readBack = RGBImage(width: 101, height: 67, pixels: gathered(PaddingGather.reflect(height: 67, width: 101, pad: 0, channels: 3), mine, c))
            let (kept, swscaleKept) = (readBack.psnr(output.image), try converter.rgbImage(from: swscale, width: 101, height: 67).psnr(output.image))
            let name = "\(String(cString: av_color_space_name(matrix))) \(String(cString: av_color_range_name(range)))"
            print("output, \(name): luma within \(lumaWorst) of swscale's; read back \(kept) dB from the RGB, swscale's \(swscaleKept) dB")
            XCTAssertLessThanOrEqual(lumaWorst, 1, name)
            XCTAssertGreaterThan(kept, swscaleKept - 0.5, name)
        }
    }
}
