import XCTest
@testable import StylizeKit

/// The networks against the float reference: onnxruntime on the shipped graphs with the
/// activation Quantize/Dequantize pairs removed. Fixtures made by
/// `python3 scripts/reference/make_fixtures.py` (see Fixtures/README.md).
final class ModelFidelityTests: XCTestCase {
    func testStyleVectorMatchesReference() throws {
        // The same 256x256 tensor on both sides: the PNG's exact 8-bit values / 255.
        let image = try Picture(contentsOf: TestSupport.fixture("style_256.png")).rgbImage
        let vector = try stylizer.predictor.vector(for: image)
        let reference = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let cosine = vector.cosine(reference)
        print("style vector cosine vs reference: \(cosine)")
        XCTAssertGreaterThanOrEqual(cosine, 0.9999)
    }

    /// PSNR of the transformer's output for `name` against the reference, given the reference vector.
    func transformerPSNR(_ name: String, _ precision: Precision) throws -> Double {
        let content = try Picture(contentsOf: TestSupport.fixture(name + ".png")).rgbImage
        let vector = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let worker = try stylizer.makeWorker(precision: precision)
        let output = try worker.stylize(content, stylizer.transformer.conditioning(for: vector))
        let reference = RGBImage(width: content.width, height: content.height, pixels: try TestSupport.floats(name + ".stylized.f32"))
        let psnr = output.psnr(reference)
        print("transformer \(name) \(precision.rawValue): \(String(format: "%.2f", psnr)) dB")
        return psnr
    }

    func testTransformerF32Square() throws {
        XCTAssertGreaterThanOrEqual(try transformerPSNR("content_96x96", .f32), 40)
    }

    /// 101x66: neither side a multiple of 4, so reflect-padding and cropping are exercised.
    func testTransformerF32NonSquareNotMultipleOf4() throws {
        XCTAssertGreaterThanOrEqual(try transformerPSNR("content_101x66", .f32), 40)
    }

    func testTransformerBF16() throws {
        try XCTSkipUnless(Precision.cpuHasNativeBF16, "this CPU has neither AVX512-BF16 nor AMX; bf16 is not checked here")
        XCTAssertGreaterThanOrEqual(try transformerPSNR("content_96x96", .bf16), 33)
        XCTAssertGreaterThanOrEqual(try transformerPSNR("content_101x66", .bf16), 33)
    }

    /// A worker reused across sizes and styles gives what a fresh worker gives.
    func testWorkerReuseAcrossSizesAndStyles() throws {
        let a = try Picture(contentsOf: TestSupport.fixture("content_96x96.png")).rgbImage
        let b = try Picture(contentsOf: TestSupport.fixture("content_101x66.png")).rgbImage
        let style1 = try stylizer.transformer.conditioning(for: StyleVector(TestSupport.floats("style_256.vector.f32")))
        let style2 = try stylizer.transformer.conditioning(for: stylizer.predictor.vector(for: RGBImage(width: 256, height: 256, red: 0.9, green: 0.2, blue: 0.1)))
        let reused = try stylizer.makeWorker(precision: .f32)
        let first = try reused.stylize(a, style1)
        _ = try reused.stylize(b, style2)
        let again = try reused.stylize(a, style2)
        XCTAssertEqual(first, try stylizer.makeWorker(precision: .f32).stylize(a, style1))
        XCTAssertEqual(again, try stylizer.makeWorker(precision: .f32).stylize(a, style2))
        XCTAssertLessThan(first.psnr(again), 30, "a different style must change the picture")
    }

    /// Strength 0 runs the transformer on the content's own vector; strength 1 on the style's.
    func testStrengthBlendsTowardsIdentity() throws {
        let content = try Picture(contentsOf: TestSupport.fixture("content_96x96.png"))
        let style = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let identity = try stylizer.styleVector(for: content)
        let half = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(strength: 0.5, precision: .f32))
        let mixed = try stylizer.stylize(content, style: StyleVector.mix([(style, 0.5), (identity, 0.5)]),
                                         options: ImageStylizationOptions(precision: .f32))
        XCTAssertEqual(half, mixed)
        let full = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(precision: .f32))
        XCTAssertNotEqual(half, full)
    }

    /// --size runs at another scale and returns a picture of the content's own size.
    func testProcessingSizeKeepsOutputSize() throws {
        let content = try Picture(contentsOf: TestSupport.fixture("content_101x66.png"))
        let style = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let small = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(processingSize: 32, precision: .f32))
        XCTAssertEqual([small.width, small.height], [101, 66])
        let native = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(precision: .f32))
        XCTAssertNotEqual(small, native)
    }

    func testTooSmallImageIsRejected() throws {
        let worker = try stylizer.makeWorker(precision: .f32)
        let conditioning = try stylizer.transformer.conditioning(for: StyleVector(TestSupport.floats("style_256.vector.f32")))
        XCTAssertThrowsError(try worker.stylize(RGBImage(width: 7, height: 40, red: 0, green: 0, blue: 0), conditioning)) { error in
            XCTAssertTrue("\(error.localizedDescription)".contains("too small"))
        }
    }
}
