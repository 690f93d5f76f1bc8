import Foundation
import StylizeTestSupport
import XCTest
@testable import StylizeKit

/// Fixtures and the models, shared by every test.
enum TestSupport {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// Little-endian float32 values of a `.f32` fixture.
    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: fixture(name))
        return data.withUnsafeBytes { bytes in
            (0..<data.count / 4).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// Both networks, loaded once (from $STYLIZE_MODELS or the cache: run scripts/fetch-models).
    static let stylizer = Result { try Stylizer() }

    /// The fixture style as a vector file (so that clip tests skip the predictor): the same
    /// numbers as `style_256.vector.f32`.
    static let styleVectorFile = fixture("style_256.json")

    /// The `stylize` executable, built into the same directory as the test bundle.
    static var executable: URL { Processes.stylize }

    /// A fresh empty directory, removed at the end of the test.
    static func temporaryDirectory(_ test: XCTestCase) throws -> URL { try Processes.temporaryDirectory(test) }

    typealias Outcome = Processes.Outcome

    /// Runs a program to completion, collecting its output; `environment` is added to this process's.
    static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Outcome {
        try Processes.run(executable, arguments, in: directory, environment: environment)
    }

    /// Runs the `stylize` executable.
    static func stylize(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Outcome {
        try run(executable, arguments, in: directory, environment: environment)
    }

    /// Runs a tool from PATH (ffmpeg, ffprobe), failing the test when it fails.
    @discardableResult
    static func tool(_ name: String, _ arguments: [String]) throws -> String { try Processes.tool(name, arguments) }

    /// Makes an MP4 a phone-style portrait clip: the track header's matrix says "rotate 90".
    static func turnMP4(_ url: URL) throws {
        var bytes = [UInt8](try Data(contentsOf: url))
        let identity: [UInt8] = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0]
        let rotated: [UInt8] = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0]
        let tkhd = try XCTUnwrap((0..<(bytes.count - 4)).first { bytes[$0..<($0 + 4)].elementsEqual("tkhd".utf8) })
        let matrix = try XCTUnwrap((tkhd..<(bytes.count - 36)).first { bytes[$0..<($0 + 36)].elementsEqual(identity) })
        bytes.replaceSubrange(matrix..<(matrix + 36), with: rotated)
        try Data(bytes).write(to: url)
    }

}

extension XCTestCase {
    var stylizer: Stylizer {
        get throws { try TestSupport.stylizer.get() }
    }

    /// A second style: the cat fixture's vector.
    func secondStyle(_ dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("cat.json")
        let ran = try TestSupport.stylize(["vector", TestSupport.fixture("content_96x96.png").path, "-o", url.path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        return url
    }

    /// Frame `index` (decode order = display order here) of `url` as a lossless PNG.
    func framePNG(_ url: URL, _ index: Int, _ dir: URL) throws -> URL {
        let png = dir.appendingPathComponent("\(url.deletingPathExtension().lastPathComponent)-\(index).png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-y", "-i", url.path, "-vf", "select=eq(n\\,\(index))", "-frames:v", "1",
                                        "-pix_fmt", "rgb24", png.path])
        return png
    }

    func picture(_ url: URL) throws -> RGBImage { try Picture(contentsOf: url).rgbImage }

    /// `stylize image` of `frame` with `style` (and extra flags).
    func still(_ frame: URL, style: String, _ extra: [String] = [], _ dir: URL, precision: String = "f32") throws -> RGBImage {
        let out = dir.appendingPathComponent("still-\(UUID().uuidString).png")
        let ran = try TestSupport.stylize(["image", frame.path, "-s", style, "-o", out.path, "--precision", precision] + extra)
        XCTAssertEqual(ran.status, 0, ran.stderr)
        return try picture(out)
    }

    /// Runs `stylize` expecting failure: a non-zero exit, one line on stderr containing
    /// `message`, and `dir` holding exactly what it held before (no output, no temporary file).
    func assertFails(_ arguments: [String], in dir: URL, saying message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        let outcome = try TestSupport.stylize(arguments)
        XCTAssertNotEqual(outcome.status, 0, "exit status", file: file, line: line)
        XCTAssertFalse(outcome.crashed, "a clean exit, not a crash: \(outcome.stderr)", file: file, line: line)
        let lines = outcome.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line on stderr, got: \(outcome.stderr)", file: file, line: line)
        XCTAssertTrue(outcome.stderr.contains(message), "stderr \"\(outcome.stderr)\" should say \"\(message)\"", file: file, line: line)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), before, "no file written", file: file, line: line)
    }
}
