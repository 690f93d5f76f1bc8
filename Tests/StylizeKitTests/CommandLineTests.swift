import XCTest
@testable import StylizeKit

/// The `stylize` executable end to end: results, and bad input giving one line on stderr, a
/// non-zero exit and no output file.
final class CommandLineTests: XCTestCase {
    func stylize(_ arguments: [String]) throws -> TestSupport.Outcome {
        try TestSupport.stylize(arguments)
    }

    /// `stylize bench` times f32 and whichever of bf16 and int8 this CPU runs, and names on stderr
    /// those it leaves out (a CPU with AVX2 and no AVX-512 runs neither); a precision asked for
    /// that the CPU cannot run is an error.
    func testBenchTimesThePrecisionsThisCPURuns() throws {
        let ran = try stylize(["bench", "--sizes", "16x16", "--runs", "1", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any])
        let results = try XCTUnwrap(report["results"] as? [[String: Any]])
        let timed = Set(results.filter { $0["network"] as? String == "transformer" }.compactMap { $0["precision"] as? String })
        XCTAssertTrue(timed.contains("f32"), "\(timed)")
        XCTAssertEqual(timed.contains("int8"), Precision.cpuHasVNNI, "\(timed)")
        if Precision.cpuHasNativeBF16 { XCTAssertTrue(timed.contains("bf16"), "\(timed)") }
        for precision in ["bf16", "int8"] where !timed.contains(precision) {
            XCTAssertTrue(ran.stderr.contains("\(precision) left out"), ran.stderr)
        }
        if !Precision.cpuHasVNNI {
            let refused = try stylize(["bench", "--sizes", "16x16", "--runs", "1", "--precisions", "int8"])
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.stderr.contains("needs VNNI"), refused.stderr)
        }
    }

    func testVectorThenImage() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let vector = dir.appendingPathComponent("starry.json").path
        let made = try stylize(["vector", TestSupport.fixture("style_256.png").path, "-o", vector])
        XCTAssertEqual(made.status, 0, made.stderr)
        let read = try StyleVectorFile.read(URL(fileURLWithPath: vector))
        XCTAssertGreaterThanOrEqual(read.cosine(try StyleVector(TestSupport.floats("style_256.vector.f32"))), 0.9999)

        let output = dir.appendingPathComponent("cat.png").path
        let ran = try stylize(["image", TestSupport.fixture("content_101x66.png").path, "-s", vector, "-o", output,
                               "--precision", "f32", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["precision"] as? String, "f32")
        let picture = try Picture(contentsOf: URL(fileURLWithPath: output))
        XCTAssertEqual([picture.width, picture.height], [101, 66])
        let reference = RGBImage(width: 101, height: 66, pixels: try TestSupport.floats("content_101x66.stylized.f32"))
        XCTAssertGreaterThanOrEqual(picture.rgbImage.psnr(reference), 40, "8-bit PNG output of the f32 path vs the float reference")

        // A mix of a picture and a vector file, weakened, at another brush scale, as JPEG.
        let mixed = dir.appendingPathComponent("mixed.jpg").path
        let mix = "\(TestSupport.fixture("content_96x96.png").path):0.25,\(vector):0.75"
        let ranMix = try stylize(["image", TestSupport.fixture("content_101x66.png").path, "-s", mix, "-o", mixed,
                                  "--strength", "0.6", "--size", "48"])
        XCTAssertEqual(ranMix.status, 0, ranMix.stderr)
        XCTAssertEqual(try Picture(contentsOf: URL(fileURLWithPath: mixed)).width, 101)
    }

    func testBadInputs() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let content = TestSupport.fixture("content_96x96.png").path
        let style = TestSupport.fixture("style_256.png").path
        let out = dir.appendingPathComponent("out.png").path
        let text = dir.appendingPathComponent("notes.txt")
        try String(repeating: "plain text, not a picture\n", count: 10).write(to: text, atomically: true, encoding: .utf8)

        try assertFails(["image", dir.appendingPathComponent("missing.png").path, "-s", style, "-o", out], in: dir, saying: "no such file")
        try assertFails(["image", text.path, "-s", style, "-o", out], in: dir, saying: "notes.txt")
        try assertFails(["image", content, "-s", text.path, "-o", out], in: dir, saying: "neither a picture nor a .json vector file")
        try assertFails(["image", content, "-s", dir.appendingPathComponent("gone.jpg").path, "-o", out], in: dir, saying: "no such file")
        try assertFails(["image", content, "-s", "\(style):-1", "-o", out], in: dir, saying: "negative")
        try assertFails(["image", content, "-s", style, "-o", dir.appendingPathComponent("out.gif").path], in: dir, saying: "cannot write .gif")
        try assertFails(["image", content, "-s", style, "-o", out, "--strength", "2"], in: dir, saying: "strength")
        try assertFails(["vector", text.path, "-o", dir.appendingPathComponent("v.json").path], in: dir, saying: "neither a picture")
    }

    func testMessagesNameTheCauseAndTheCommandsHelp() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let clip = dir.appendingPathComponent("clip.mp4")
        // ffmpeg writes an MP4's index (moov) after the media unless asked otherwise.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", VideoTests.sample.path, "-t", "2", "-vf", "scale=96:54", "-c:v", "libx264",
                                        "-c:a", "copy", clip.path])
        let out = dir.appendingPathComponent("out.mp4").path, picture = dir.appendingPathComponent("out.png").path
        let style = TestSupport.styleVectorFile.path
        try assertFails(["video", clip.path, "-s", style, "-o", out, "--strength", "-1"], in: dir, saying: "--strength must be between 0 and 1, got -1.0 (see stylize video --help)")
        try assertFails(["image", clip.path, "-s", style, "-o", out, "--stabilize"], in: dir, saying: "(see stylize image --help)")
        try assertFails(["video", clip.path, "-s", style, "-o", out, "--start", "10"], in: dir, saying: "past the end of \(clip.path), which is 2.0")
        try assertFails(["image", TestSupport.fixture("content_96x96.png").path, "-s", "vangogh", "-o", picture], in: dir, saying: "gallery styles: starry-night")
        try assertFails(["image", TestSupport.fixture("content_96x96.png").path, "-s", clip.path, "-o", picture], in: dir, saying: "is a clip, and a style is one picture")
        let unwritable = try TestSupport.stylize(["image", TestSupport.fixture("content_96x96.png").path, "-s", style, "-o", "/proc/x.png"])
        XCTAssertNotEqual(unwritable.status, 0)
        XCTAssertTrue(unwritable.stderr.hasPrefix("stylize: cannot write /proc/x.png: "), unwritable.stderr)
        XCTAssertFalse(unwritable.stderr.contains("operation could not be completed"), unwritable.stderr)

        // A pipe cannot reach an index at the end: the message says so, not "no frames".
        let piped = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), ["-c", "'\(TestSupport.executable.path)' video - -s '\(style)' -o '\(out)' < '\(clip.path)'"])
        XCTAssertNotEqual(piped.status, 0)
        XCTAssertTrue(piped.stderr.contains("keeps its index at the end, which a pipe cannot reach"), piped.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        // A finished job says where its output went and how long it took.
        let done = try TestSupport.stylize(["video", clip.path, "-s", style, "-o", out, "--duration", "0.4"])
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertTrue(done.stderr.contains("stylize: wrote \(out): 10 frames in "), done.stderr)
        // MP4 to standard output is fragmented, so that it can be written without seeking.
        let streamed = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), ["-o", "pipefail", "-c",
            "'\(TestSupport.executable.path)' video '\(clip.path)' -s '\(style)' -o - --format mp4 --quiet | ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 -"])
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        XCTAssertEqual(streamed.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "50")
    }

    /// Every option's help names its default once: an option whose text says its default must
    /// not also get ArgumentParser's "(default: ...)".
    func testHelpGivesEachDefaultOnce() throws {
        for command in ["image", "video", "frames", "sheet", "styles", "vector", "probe", "join", "studio", "bench"] {
            let help = try TestSupport.stylize([command, "--help"])
            XCTAssertEqual(help.status, 0, help.stderr)
            // One block per option: its first line starts with "  -", the rest are indented further.
            var blocks: [String] = []
            for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  -") { blocks.append(String(line)) } else if line.hasPrefix("          "), !blocks.isEmpty { blocks[blocks.count - 1] += " " + line }
            }
            XCTAssertFalse(blocks.isEmpty, command)
            for block in blocks {
                XCTAssertLessThanOrEqual(block.components(separatedBy: "(default").count - 1, 1, "\(command): \(block)")
            }
        }
    }

    func testRefusesToOverwriteOrToWriteOverTheInput() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let out = dir.appendingPathComponent("exists.png")
        try "precious".write(to: out, atomically: true, encoding: .utf8)
        let content = TestSupport.fixture("content_96x96.png").path
        let style = TestSupport.fixture("style_256.png").path
        try assertFails(["image", content, "-s", style, "-o", out.path], in: dir, saying: "--overwrite")
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8), "precious")
        let copy = dir.appendingPathComponent("in.png")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: content), to: copy)
        try assertFails(["image", copy.path, "-s", style, "-o", copy.path, "--overwrite"], in: dir, saying: "is the input")
        let ok = try stylize(["image", content, "-s", style, "-o", out.path, "--overwrite", "--size", "32"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try Picture(contentsOf: out).width, 96)
    }

    func testDamagedModelIsReported() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for name in [ModelStore.predictorFile, ModelStore.transformerFile] {
            let source = try ModelStore.locate(name, explicit: nil)
            var bytes = try Data(contentsOf: source)
            if name == ModelStore.transformerFile { bytes[bytes.count / 2] ^= 0xFF }
            try bytes.write(to: models.appendingPathComponent(name))
        }
        let out = dir.appendingPathComponent("out.png").path
        try assertFails(["image", TestSupport.fixture("content_96x96.png").path, "-s", TestSupport.fixture("style_256.png").path,
                         "-o", out, "--models", models.path], in: dir, saying: "scripts/fetch-models")
        XCTAssertThrowsError(try Stylizer(modelsDirectory: models)) { error in
            guard case StylizeError.modelDamaged(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, models.appendingPathComponent(ModelStore.transformerFile).path)
        }
    }

    /// A truncated file with the right name fails its checksum; a file that is not ONNX at all
    /// (checked below the checksum) is reported as such.
    func testModelThatIsNotONNX() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let url = dir.appendingPathComponent("broken.onnx")
        try Data([0x08, 0x07, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).write(to: url)
        XCTAssertThrowsError(try ONNXModel(contentsOf: url)) { error in
            guard case StylizeError.modelDamaged(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("not an ONNX file"), reason)
        }
    }
}
