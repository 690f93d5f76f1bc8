import Foundation
import XCTest
@testable import StylizeKit

/// Keyframes, easing and interpolation of style vectors over time.
final class StyleTimelineTests: XCTestCase {
    let a = try! StyleVector((0..<100).map { Float($0) / 10 })
    let b = try! StyleVector((0..<100).map { Float(99 - $0) / 7 - 3 })

    func timeline(_ easing: Easing = .linear, strengths: (Double, Double) = (1, 1)) throws -> StyleTimeline {
        try StyleTimeline(keys: [.init(time: .seconds(1), vector: a, strength: strengths.0),
                                 .init(time: .frame(75), vector: b, strength: strengths.1)], easing: easing)
    }

    func testEndpointsAreExactAndHold() throws {
        let t = try timeline()
        // #75 at 25 fps is 3 s.
        for seconds in [-5.0, 0, 1] { XCTAssertEqual(t.value(at: seconds, frameRate: 25).vector, a) }
        for seconds in [3.0, 3.5, 100] { XCTAssertEqual(t.value(at: seconds, frameRate: 25).vector, b) }
    }

    func testHalfWayIsTheEvenMix() throws {
        let mid = try timeline().value(at: 2, frameRate: 25).vector
        let mix = try StyleVector.mix([(a, 0.5), (b, 0.5)])
        for (x, y) in zip(mid.values, mix.values) { XCTAssertEqual(x, y, accuracy: 1e-6) }
    }

    func testStrengthMovesToo() throws {
        let t = try timeline(strengths: (1, 0))
        XCTAssertEqual(t.value(at: 2.5, frameRate: 25).strength, 0.25, accuracy: 1e-12)
        XCTAssertTrue(t.needsIdentity)
        let identity = try StyleVector([Float](repeating: 0, count: 100))
        let v = try t.effectiveVector(at: 2.5, frameRate: 25, identity: identity)
        let expected = try StyleVector.mix([(a, 0.25 * 0.25), (b, 0.25 * 0.75), (identity, 0.75)])
        for (x, y) in zip(v.values, expected.values) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        XCTAssertThrowsError(try t.effectiveVector(at: 2.5, frameRate: 25, identity: nil))
    }

    func testEveryEasingIsMonotoneWithFixedEnds() {
        for easing in Easing.allCases {
            XCTAssertEqual(easing(0), 0, "\(easing)")
            XCTAssertEqual(easing(1), 1, "\(easing)")
            let samples = (0...1000).map { easing(Double($0) / 1000) }
            XCTAssertTrue(zip(samples, samples.dropFirst()).allSatisfy { $0 <= $1 }, "\(easing) is monotone")
        }
        XCTAssertEqual(Easing.smooth(0.5), 0.5, accuracy: 1e-12)
        XCTAssertLessThan(Easing.in(0.25), 0.25)
        XCTAssertGreaterThan(Easing.out(0.25), 0.25)
    }

    func testEasedTimelineFollowsItsCurve() throws {
        let t = try timeline(.in)
        let v = t.value(at: 1.5, frameRate: 25).vector  // u = 0.25, eased 0.0625
        XCTAssertEqual(v.values[10], a.values[10] * 0.9375 + b.values[10] * 0.0625, accuracy: 1e-5)
    }

    func testKeyframeParsing() throws {
        let k = try KeyframeSpec(parsing: "00:01:02.500=a.jpg:0.7,b.json:0.3@0.8")
        XCTAssertEqual(k.time, .seconds(62.5))
        XCTAssertEqual(k.style.parts.map(\.path), ["a.jpg", "b.json"])
        XCTAssertEqual(k.strength, 0.8)
        XCTAssertEqual(try KeyframeSpec(parsing: "#120=b.json").time, .frame(120))
        XCTAssertEqual(try KeyframeSpec(parsing: "2.5=me@home.png").style.parts[0].path, "me@home.png")
        XCTAssertEqual(try parseSeconds("1:30"), 90)
        for bad in ["a.jpg", "x=a.jpg", "#-1=a.jpg", "#1.5=a.jpg", "2=a.jpg@1.5", "2=", "-1=a.jpg", "1:75=a.jpg"] {
            XCTAssertThrowsError(try KeyframeSpec(parsing: bad), bad)
        }
    }

    func testKeyframesFile() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let url = dir.appendingPathComponent("keys.json")
        try ##"{"ease": "in-out", "keyframes": [{"time": 0, "style": "a.jpg"}, {"time": "#30", "style": "/abs/b.json", "strength": 0.5}]}"##
            .write(to: url, atomically: true, encoding: .utf8)
        let (keys, ease) = try KeyframeFile.read(url)
        XCTAssertEqual(ease, .inOut)
        XCTAssertEqual(keys.map(\.time), [.seconds(0), .frame(30)])
        XCTAssertEqual(keys[0].style.parts[0].path, dir.appendingPathComponent("a.jpg").path, "relative to the file")
        XCTAssertEqual(keys[1].style.parts[0].path, "/abs/b.json")
        XCTAssertEqual(keys[1].strength, 0.5)
        for bad in [#"{"keyframes": []}"#, #"{"keyframes": [{"time": -1, "style": "a.jpg"}]}"#, "[]", #"{"keyframes": [{"time": "1", "style": "a.jpg", "strength": 3}]}"#] {
            try bad.write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try KeyframeFile.read(url), bad)
        }
    }

    /// A sequence keyed A at its first frame and B at its last: the first, middle and last
    /// outputs equal `stylize image` with A, the even mix, and B.
    func testTransitionMatchesStillsEndToEnd() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let frames = dir.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "5",
                                        frames.appendingPathComponent("f%d.png").path])
        let styleA = TestSupport.styleVectorFile
        let styleB = dir.appendingPathComponent("b.json")
        try StyleVectorFile(vector: StyleVector((0..<100).map { Float(sin(Double($0))) }), source: "test").write(to: styleB, overwrite: false)
        let out = dir.appendingPathComponent("out")
        // Stabilization off: each frame must be exactly its still. One worker, on every core as
        // `stylize image` runs: oneDNN's f32 kernels for AVX2 add up in another order on one
        // thread than on two (a level apart on a few values; AVX-512's do not).
        let ran = try TestSupport.stylize(["frames", frames.path, "-o", out.path, "--precision", "f32", "--fps", "10", "--no-stabilize", "--workers", "1",
                                           "--keyframe", "#0=\(styleA.path)", "--keyframe", "#4=\(styleB.path)",
                                           "--filmstrip", dir.appendingPathComponent("strip.png").path, "--filmstrip-frames", "5"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        for (frame, style) in [(1, styleA.path), (3, "\(styleA.path):0.5,\(styleB.path):0.5"), (5, styleB.path)] {
            let still = dir.appendingPathComponent("still\(frame).png")
            let made = try TestSupport.stylize(["image", frames.appendingPathComponent("f\(frame).png").path, "-s", style, "-o", still.path, "--precision", "f32"])
            XCTAssertEqual(made.status, 0, made.stderr)
            // The same code on the same numbers: the same pixels, to the bit.
            XCTAssertEqual(try Picture(contentsOf: out.appendingPathComponent("f\(frame).png")).rgbImage,
                           try Picture(contentsOf: still).rgbImage, "frame \(frame)")
        }
        let strip = try Picture(contentsOf: dir.appendingPathComponent("strip.png"))
        XCTAssertEqual(strip.height, 180 + 8)
        XCTAssertEqual(strip.width, 5 * 240 + 6 * 4, "five frames 240 wide and six gaps")
    }
}

final class ContactSheetTests: XCTestCase {
    func testSheetHasACellPerStyleAndStrengthAndLabels() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("sheet.png")
        let style = TestSupport.styleVectorFile.path
        let ran = try TestSupport.stylize(["sheet", TestSupport.fixture("content_101x66.png").path, "-s", style,
                                           "-s", TestSupport.fixture("style_256.png").path, "--strengths", "0,1", "--cell-width", "100", "-o", output.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let sheet = try Picture(contentsOf: output)
        // 200 label pixels, two 100-pixel cells with 8-pixel gaps; a 40-pixel header, two rows 65 high.
        XCTAssertEqual([sheet.width, sheet.height], [200 + 2 * 108 + 8, 40 + 2 * 73 + 8])
        // The header holds light text on the dark background.
        let header = (0..<40).flatMap { y in (200..<300).map { x in sheet.samples[(y * sheet.width + x) * 3] } }
        XCTAssertTrue(header.contains { $0 > 40000 }, "the column label is drawn")
        // Strength 0 is the content's own style: unlike strength 1.
        func cell(_ row: Int, _ column: Int) -> [UInt16] {
            (0..<65).flatMap { y in
                let start = ((40 + row * 73 + y) * sheet.width + 200 + column * 108) * 3
                return Array(sheet.samples[start..<(start + 300)])
            }
        }
        XCTAssertNotEqual(cell(0, 0), cell(0, 1))
    }
}
