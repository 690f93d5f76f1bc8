import XCTest
@testable import StylizeKit

/// The networks against the float reference: onnxruntime on the shipped graphs with the
/// activation Quantize/Dequantize pairs removed. Fixtures made by
/// `python3 scripts/reference/make_fixtures.py` (see Fixtures/README.md).
final class ModelFidelityTests: XCTestCase {
    /// By direction (cosine) and by length (within 1%): a predictor off by a constant factor
    /// keeps the direction.
    func testStyleVectorMatchesReference() throws {
        // The same 256x256 tensor on both sides: the PNG's exact 8-bit values / 255.
        let image = try Picture(contentsOf: TestSupport.fixture("style_256.png")).rgbImage
        let vector = try stylizer.predictor.vector(for: image)
        let reference = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let cosine = vector.cosine(reference)
        func norm(_ v: StyleVector) -> Double { v.values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        print("style vector cosine vs reference: \(cosine), norm ratio \(norm(vector) / norm(reference))")
        XCTAssertGreaterThanOrEqual(cosine, 0.9999)
        XCTAssertEqual(norm(vector) / norm(reference), 1, accuracy: 0.01)
    }

    /// The predictor at another side (`--style-size 128`): the same 128x128 tensor on both
    /// sides, against the reference float graph run at 128x128.
    func testStyleVectorAtAnotherSideMatchesReference() throws {
        let image = try Picture(contentsOf: TestSupport.fixture("style_128.png")).rgbImage
        let vector = try stylizer.predictor.vector(for: image)
        let reference = try StyleVector(TestSupport.floats("style_128.vector.f32"))
        func norm(_ v: StyleVector) -> Double { v.values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        print("style vector at 128x128: cosine \(vector.cosine(reference)), norm ratio \(norm(vector) / norm(reference))")
        XCTAssertGreaterThanOrEqual(vector.cosine(reference), 0.9999)
        XCTAssertEqual(norm(vector) / norm(reference), 1, accuracy: 0.01)
        // And it is another vector than the 256 one of the same picture.
        XCTAssertLessThan(vector.cosine(try StyleVector(TestSupport.floats("style_256.vector.f32"))), 0.995)
    }

    /// A 400x300 picture through StylizeKit's own preparation (centre square, resampled to
    /// 256x256 by swscale) against the reference's (PIL's crop and bilinear filter, see
    /// scripts/reference/make_style_fixture.py): crop and resize are checked, not only the
    /// network. Two resamplers agree closely but not bit for bit, hence the looser cosine
    /// (measured 0.99990; a box filter instead gives 0.998 and a norm 3% off).
    func testStyleVectorOfALargeNonSquarePicture() throws {
        let vector = try stylizer.styleVector(for: try Picture(contentsOf: TestSupport.fixture("style_400x300.png")))
        let reference = try StyleVector(TestSupport.floats("style_400x300.vector.f32"))
        func norm(_ v: StyleVector) -> Double { v.values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        let cosine = vector.cosine(reference)
        print("style vector of a 400x300 picture: cosine \(cosine), norm ratio \(norm(vector) / norm(reference))")
        XCTAssertGreaterThanOrEqual(cosine, 0.9995)
        XCTAssertEqual(norm(vector) / norm(reference), 1, accuracy: 0.01)
        // Not the whole picture squeezed, nor a corner: those give other vectors.
        let squeezed = try stylizer.predictor.vector(for: try Picture(contentsOf: TestSupport.fixture("style_400x300.png"))
            .resized(width: 256, height: 256).rgbImage)
        XCTAssertLessThan(squeezed.cosine(reference), cosine)
    }

    /// PSNR of the transformer's output for `name` against the reference, given the reference
    /// vector, and the kernels the worker ran.
    func transformerPSNR(_ name: String, _ precision: Precision) throws -> (psnr: Double, kernels: [String]) {
        let content = try Picture(contentsOf: TestSupport.fixture(name + ".png")).rgbImage
        let vector = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let worker = try stylizer.makeWorker(precision: precision)
        let output = try worker.stylize(content, stylizer.transformer.conditioning(for: vector))
        let reference = RGBImage(width: content.width, height: content.height, pixels: try TestSupport.floats(name + ".stylized.f32"))
        let psnr = output.psnr(reference)
        print("transformer \(name) \(precision.rawValue): \(String(format: "%.2f", psnr)) dB, kernels \(Set(worker.convolutionKernels).sorted())")
        return (psnr, worker.convolutionKernels)
    }

    func testTransformerF32Square() throws {
        XCTAssertGreaterThanOrEqual(try transformerPSNR("content_96x96", .f32).psnr, 40)
    }

    /// 101x66: neither side a multiple of 4, so reflect-padding and cropping are exercised.
    func testTransformerF32NonSquareNotMultipleOf4() throws {
        XCTAssertGreaterThanOrEqual(try transformerPSNR("content_101x66", .f32).psnr, 40)
    }

    /// bf16 within 33 dB of the float reference, run by bf16 kernels: every conv's kernel is a
    /// bf16 one, and the result is not the f32 engine's (which matches the reference to over
    /// 100 dB). Where oneDNN cannot run bf16 convolutions at all (a CPU with AVX2 and no
    /// AVX-512, as AMD's before Zen 4), asking for bf16 is refused with the way out, which is
    /// checked there instead; the test is then reported as skipped, since bf16's results
    /// cannot be.
    func testTransformerBF16() throws {
        if !Precision.cpuHasNativeBF16 {
            do {
                _ = try transformerPSNR("content_96x96", .bf16)
            } catch {
                XCTAssertTrue(error.localizedDescription.contains("cannot run bf16 convolutions"), error.localizedDescription)
                XCTAssertTrue(error.localizedDescription.contains("use the f32 precision"), error.localizedDescription)
                throw XCTSkip("this CPU cannot run bf16 convolutions (\(PrecisionChoice.cpuModel)): the refusal is checked, bf16's results cannot be")
            }
        }
        for name in ["content_96x96", "content_101x66"] {
            let (psnr, kernels) = try transformerPSNR(name, .bf16)
            XCTAssertGreaterThanOrEqual(psnr, 33)
            XCTAssertLessThan(psnr, 80, "\(name): as exact as f32; bf16 was not used")
            XCTAssertFalse(kernels.isEmpty)
            for kernel in kernels { XCTAssertTrue(kernel.contains("bf16"), "\(name): a conv ran \(kernel), not a bf16 kernel") }
        }
    }

    /// int8 against onnxruntime on the shipped int8 graph (content_*.int8.f32, made by
    /// scripts/reference/make_int8_fixtures.py): at least 35 dB, and
    /// about as far from the float reference as onnxruntime's int8 result is (27-31 dB).
    /// Without VNNI int8 is refused (`testInt8IsRefusedWithoutVNNI`), and this test is reported
    /// as skipped.
    func testTransformerInt8MatchesTheInt8Graph() throws {
        guard Precision.cpuHasVNNI else {
            throw XCTSkip("this CPU (or ONEDNN_MAX_CPU_ISA) has no VNNI: int8 is refused here, and its results cannot be checked")
        }
        for name in ["content_96x96", "content_101x66"] {
            let content = try Picture(contentsOf: TestSupport.fixture(name + ".png")).rgbImage
            let vector = try StyleVector(TestSupport.floats("style_256.vector.f32"))
            let worker = try stylizer.makeWorker(precision: .int8)
            let output = try worker.stylize(content, stylizer.transformer.conditioning(for: vector))
            let int8 = RGBImage(width: content.width, height: content.height, pixels: try TestSupport.floats(name + ".int8.f32"))
            let float = RGBImage(width: content.width, height: content.height, pixels: try TestSupport.floats(name + ".stylized.f32"))
            let (psnr, floatPSNR) = (output.psnr(int8), output.psnr(float))
            print("transformer \(name) int8: \(String(format: "%.2f", psnr)) dB from onnxruntime's int8 graph, "
                  + "\(String(format: "%.2f", floatPSNR)) dB from the float reference (onnxruntime int8: "
                  + "\(String(format: "%.2f", int8.psnr(float))) dB), kernels \(Set(worker.convolutionKernels).sorted())")
            XCTAssertGreaterThanOrEqual(psnr, 35)
            XCTAssertLessThan(floatPSNR, 40, "\(name): as close to the float reference as a float engine; int8 was not used")
            XCTAssertFalse(worker.convolutionKernels.contains { $0.contains("bf16") })
        }
    }

    /// Without VNNI (ONEDNN_MAX_CPU_ISA=AVX2 in .ci/run), int8 is refused with the way out;
    /// with it, it runs.
    func testInt8IsRefusedWithoutVNNI() throws {
        if Precision.cpuHasVNNI {
            XCTAssertEqual(try stylizer.makeWorker(precision: .int8).precision, .int8)
        } else {
            XCTAssertThrowsError(try stylizer.makeWorker(precision: .int8)) { error in
                XCTAssertTrue(error.localizedDescription.contains("needs VNNI"), error.localizedDescription)
            }
        }
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
        let half = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(strength: 0.5, precision: .f32), worker: nil)
        let mixed = try stylizer.stylize(content, style: StyleVector.mix([(style, 0.5), (identity, 0.5)]),
                                         options: ImageStylizationOptions(precision: .f32), worker: nil)
        XCTAssertEqual(half, mixed)
        let full = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(precision: .f32), worker: nil)
        XCTAssertNotEqual(half, full)
    }

    /// --size runs at another scale and returns a picture of the content's own size.
    func testProcessingSizeKeepsOutputSize() throws {
        let content = try Picture(contentsOf: TestSupport.fixture("content_101x66.png"))
        let style = try StyleVector(TestSupport.floats("style_256.vector.f32"))
        let small = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(processingSize: 32, precision: .f32), worker: nil)
        XCTAssertEqual([small.width, small.height], [101, 66])
        let native = try stylizer.stylize(content, style: style, options: ImageStylizationOptions(precision: .f32), worker: nil)
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
