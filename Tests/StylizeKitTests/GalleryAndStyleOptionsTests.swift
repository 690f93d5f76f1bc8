import XCTest
@testable import StylizeKit

/// The gallery, colour-preserving transfer, the style size, EXIF orientation, and the messages
/// a first-time user meets.
final class GalleryAndStyleOptionsTests: XCTestCase {
    /// The repository's root, for the gallery's files.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    var samples: URL { Self.repository.appendingPathComponent("SampleClips") }

    // MARK: Gallery

    func testCompiledGalleryIsTheRepositoryFile() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("gallery/gallery.json"), encoding: .utf8)
        XCTAssertEqual(galleryJSON, text, "run scripts/build-gallery --write")
    }

    /// Every name resolves, to the vector `stylize vector` gives for its picture (within the
    /// tolerance scripts/build-gallery allows for other CPUs' kernels).
    func testEveryGalleryStyleIsTheVectorOfItsPicture() throws {
        let gallery = StyleGallery.builtIn
        XCTAssertGreaterThanOrEqual(gallery.entries.count, 16)
        XCTAssertEqual(Set(gallery.names).count, gallery.names.count, "names are unique")
        for entry in gallery.entries {
            XCTAssertNotNil(entry.name.range(of: "^[a-z0-9]+(-[a-z0-9]+)*$", options: .regularExpression), entry.name)
            let named = try stylizer.styleVector(for: StyleSpec(parsing: entry.name))
            XCTAssertEqual(named, try StyleVector(entry.vector))
            let picture = try Picture(contentsOf: Self.repository.appendingPathComponent("gallery/pictures").appendingPathComponent(entry.picture))
            let computed = try stylizer.styleVector(for: picture)
            let scale = computed.values.map(abs).max()!
            let difference = zip(computed.values, named.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(difference / scale, 1e-4, "\(entry.name) is not the vector of \(entry.picture)")
        }
        // Distinct styles, not one vector under many names.
        for (i, a) in gallery.entries.enumerated() {
            for b in gallery.entries[(i + 1)...] {
                XCTAssertLessThan(try StyleVector(a.vector).cosine(StyleVector(b.vector)), 0.99, "\(a.name) and \(b.name)")
            }
        }
    }

    func testGalleryNamesInMixesAndKeyframes() throws {
        let gallery = StyleGallery.builtIn
        let (a, b) = (gallery.names[0], gallery.names[1])
        let (va, vb) = (gallery.vector(named: a)!, gallery.vector(named: b)!)
        XCTAssertEqual(try stylizer.styleVector(for: StyleSpec(parsing: "\(a):0.25,\(b):0.75")), try StyleVector.mix([(va, 0.25), (vb, 0.75)]))
        // Upper case is the same name.
        XCTAssertEqual(try stylizer.styleVector(for: StyleSpec(parsing: a.uppercased())), va)

        let keyed = try stylizer.timeline([KeyframeSpec(parsing: "0=\(a)"), KeyframeSpec(parsing: "2=\(b)@0.5")], easing: .linear)
        XCTAssertEqual(keyed.value(at: 0, frameRate: 25).vector, va)
        XCTAssertEqual(keyed.value(at: 3, frameRate: 25).vector, vb)

        // In a keyframes file, a gallery name stays a name; a file beside the keyframes file wins.
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.copyItem(at: TestSupport.fixture("style_256.json"), to: dir.appendingPathComponent("mine.json"))
        let file = dir.appendingPathComponent("keys.json")
        try ##"{"keyframes": [{"time": 0, "style": "\##(a)"}, {"time": "#10", "style": "mine.json"}]}"##.write(to: file, atomically: true, encoding: .utf8)
        let (specs, _) = try KeyframeFile.read(file)
        let timeline = try stylizer.timeline(specs, easing: .linear)
        XCTAssertEqual(timeline.value(at: 0, frameRate: 25).vector, va)
        XCTAssertEqual(timeline.value(at: 1, frameRate: 25).vector, try StyleVector(TestSupport.floats("style_256.vector.f32")))
    }

    func testStylesListsTheGallery() throws {
        let outcome = try TestSupport.stylize(["styles"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let lines = outcome.stdout.split(separator: "\n")
        XCTAssertEqual(lines.map { String($0.split(separator: " ")[0]) }, StyleGallery.builtIn.names)
        for (line, entry) in zip(lines, StyleGallery.builtIn.entries) {
            XCTAssertTrue(line.hasSuffix("\(entry.title), \(entry.artist), \(entry.year)"), String(line))
        }
    }

    /// `styles --sheet`: the picture first, then every gallery style, in a labelled grid; and
    /// a gallery name works in `sheet` rows.
    func testGallerySheetAndSheetRows() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let grid = dir.appendingPathComponent("grid.png")
        let content = TestSupport.fixture("content_96x96.png").path
        let outcome = try TestSupport.stylize(["styles", "--sheet", content, "-o", grid.path, "--cell-width", "64", "--columns", "5"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let picture = try Picture(contentsOf: grid)
        let cells = StyleGallery.builtIn.entries.count + 1, rows = (cells + 4) / 5
        XCTAssertEqual(picture.width, 8 + 5 * (64 + 8))
        XCTAssertEqual(picture.height, 8 + rows * (64 + 28 + 8))
        // The second cell is stylized: it is not the first (the original) again.
        XCTAssertLessThan(picture.cropped(x: 8, y: 8, width: 64, height: 64).rgbImage
            .psnr(picture.cropped(x: 80, y: 8, width: 64, height: 64).rgbImage), 25)

        let names = StyleGallery.builtIn.names
        let sheet = dir.appendingPathComponent("sheet.png")
        let rows2 = try TestSupport.stylize(["sheet", content, "-s", names[2], "-s", "\(names[3]):0.5,\(names[4]):0.5", "--strengths", "1",
                                             "--cell-width", "64", "-o", sheet.path])
        XCTAssertEqual(rows2.status, 0, rows2.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: sheet.path))
    }

    /// A file with a gallery name wins, and the user is told; an unknown name lists the
    /// closest names first.
    func testFileShadowsGalleryNameAndUnknownNamesSuggest() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let name = StyleGallery.builtIn.names[0]
        try FileManager.default.copyItem(at: TestSupport.fixture("style_256.json"), to: dir.appendingPathComponent(name))
        // Not a .json name, so the copy is read as a picture and refused: use a picture instead.
        try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        try FileManager.default.copyItem(at: TestSupport.fixture("style_256.png"), to: dir.appendingPathComponent(name))
        let shadowed = try TestSupport.stylize(["vector", name, "-o", "v.json"], in: dir)
        XCTAssertEqual(shadowed.status, 0, shadowed.stderr)
        XCTAssertEqual(shadowed.stderr, "stylize: note: using the file \(name), not the gallery style of that name\n")
        let vector = try StyleVectorFile.read(dir.appendingPathComponent("v.json"))
        XCTAssertEqual(vector, try stylizer.styleVector(for: Picture(contentsOf: TestSupport.fixture("style_256.png"))))
        XCTAssertNotEqual(vector, StyleGallery.builtIn.vector(named: name))

        let typo = String(name.dropLast())
        try assertFails(["vector", typo, "-o", dir.appendingPathComponent("w.json").path], in: dir,
                        saying: "bad style: \(typo) is neither a file nor a gallery style; closest gallery styles: \(name),")
    }

    // MARK: Style size

    func testStyleSizeChangesTheVectorAnd256IsTheDefault() throws {
        let picture = try Picture(contentsOf: samples.appendingPathComponent("starry_night.jpg"))
        let standard = try stylizer.styleVector(for: picture)
        XCTAssertEqual(try stylizer.styleVector(for: picture, styleSize: 256), standard)
        // The default is the predictor's input as before: the reference fixture's exact tensor.
        let fixture = try Picture(contentsOf: TestSupport.fixture("style_256.png"))
        XCTAssertEqual(try stylizer.styleVector(for: fixture), try stylizer.predictor.vector(for: fixture.rgbImage))
        let small = try stylizer.styleVector(for: picture, styleSize: 128)
        let large = try stylizer.styleVector(for: picture, styleSize: 512)
        print("style size: cosine 128/256 \(small.cosine(standard)), 512/256 \(large.cosine(standard))")
        XCTAssertLessThan(small.cosine(standard), 0.999)
        XCTAssertLessThan(large.cosine(standard), 0.999)
        XCTAssertLessThan(small.cosine(large), 0.999)

        let dir = try TestSupport.temporaryDirectory(self)
        try assertFails(["vector", TestSupport.fixture("style_256.png").path, "--style-size", "32", "-o", dir.appendingPathComponent("v.json").path],
                        in: dir, saying: "--style-size must be from 64 to 1024")
        let cli = dir.appendingPathComponent("v128.json")
        let outcome = try TestSupport.stylize(["vector", samples.appendingPathComponent("starry_night.jpg").path, "--style-size", "128", "-o", cli.path])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertEqual(try StyleVectorFile.read(cli), small)
    }

    // MARK: Colour preservation

    /// Y'CbCr (BT.601, full range) planes of a picture, in [0, 1].
    func ycbcr(_ image: RGBImage) -> (y: [Double], cb: [Double], cr: [Double]) {
        var y = [Double](), cb = [Double](), cr = [Double]()
        for i in 0..<(image.width * image.height) {
            let (r, g, b) = (Double(image.pixels[3 * i]), Double(image.pixels[3 * i + 1]), Double(image.pixels[3 * i + 2]))
            y.append(0.299 * r + 0.587 * g + 0.114 * b)
            cb.append(-0.168736 * r - 0.331264 * g + 0.5 * b)
            cr.append(0.5 * r - 0.418688 * g - 0.081312 * b)
        }
        return (y, cb, cr)
    }

    func psnr(_ a: [Double], _ b: [Double]) -> Double {
        let mse = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count)
        return 10 * log10(1 / max(mse, 1e-12))
    }

    func correlation(_ a: [Double], _ b: [Double]) -> Double {
        let (ma, mb) = (a.reduce(0, +) / Double(a.count), b.reduce(0, +) / Double(b.count))
        var (ab, aa, bb) = (0.0, 0.0, 0.0)
        for (x, y) in zip(a, b) { ab += (x - ma) * (y - mb); aa += (x - ma) * (x - ma); bb += (y - mb) * (y - mb) }
        return ab / (aa * bb).squareRoot()
    }

    func testPreserveColorsKeepsChromaAndTakesStylizedLuma() throws {
        let content = try Picture(contentsOf: samples.appendingPathComponent("chelsea.png")).resized(width: 226, height: 150)
        let style = try stylizer.styleVector(for: Picture(contentsOf: samples.appendingPathComponent("starry_night.jpg")))
        let plain = try stylizer.stylize(content, style: style, options: .init(), worker: nil).rgbImage
        let kept = try stylizer.stylize(content, style: style, options: .init(preserveColors: true), worker: nil).rgbImage
        let (c, p, k) = (ycbcr(content.rgbImage), ycbcr(plain), ycbcr(kept))
        print("preserve colours: Cb \(psnr(k.cb, c.cb)) dB, Cr \(psnr(k.cr, c.cr)) dB (plain: \(psnr(p.cb, c.cb)), \(psnr(p.cr, c.cr))); luma correlation with stylized \(correlation(k.y, p.y)), with content \(correlation(k.y, c.y))")
        XCTAssertGreaterThanOrEqual(psnr(k.cb, c.cb), 35)
        XCTAssertGreaterThanOrEqual(psnr(k.cr, c.cr), 35)
        XCTAssertLessThan(psnr(p.cb, c.cb), 30, "the plain result takes the style's colours")
        XCTAssertGreaterThanOrEqual(correlation(k.y, p.y), 0.95, "the luma is the stylized frame's")
        XCTAssertGreaterThan(correlation(k.y, p.y), correlation(k.y, c.y))
        // Matched to the content's mean and spread.
        func moments(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            return (m, (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot())
        }
        XCTAssertEqual(moments(k.y).0, moments(c.y).0, accuracy: 0.01)
        XCTAssertEqual(moments(k.y).1, moments(c.y).1, accuracy: 0.01)
    }

    /// Through the clip pipeline (lossless H.264, so the comparison sees the pipeline, not the
    /// encoder): every frame keeps the input's chroma planes, and its luma is not the input's.
    /// Without --preserve-colors the chroma is far from the input's (checked on the first frame).
    func testPreserveColorsOnAClip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let clip = dir.appendingPathComponent("in.mkv").path, out = dir.appendingPathComponent("out.mkv").path
        // Real footage: a synthetic pattern's saturated, sharp colour edges do not survive even
        // a plain 4:2:0 -> RGB -> 4:2:0 round trip at 35 dB.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", samples.appendingPathComponent("bigbuckbunny.mp4").path, "-frames:v", "5",
                                        "-vf", "scale=160:96", "-an", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", clip])
        let outcome = try TestSupport.stylize(["video", clip, "-s", TestSupport.fixture("style_256.json").path, "-o", out,
                                               "--preserve-colors", "--crf", "0", "--no-stabilize"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        func planes(_ path: String) throws -> Data {
            let raw = dir.appendingPathComponent(UUID().uuidString + ".yuv")
            try TestSupport.tool("ffmpeg", ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuv420p", raw.path])
            return try Data(contentsOf: raw)
        }
        let plainOut = dir.appendingPathComponent("plain.mkv").path
        XCTAssertEqual(try TestSupport.stylize(["video", clip, "-s", TestSupport.fixture("style_256.json").path, "-o", plainOut,
                                                "--crf", "0", "--no-stabilize"]).status, 0)
        let (a, b, plain) = (try planes(clip), try planes(out), try planes(plainOut))
        XCTAssertEqual(a.count, b.count)
        XCTAssertEqual(a.count, 5 * 160 * 96 * 3 / 2)
        let chromaOfFirst = (160 * 96)..<(160 * 96 * 3 / 2)
        XCTAssertLessThan(psnr(chromaOfFirst.map { Double(plain[$0]) / 255 }, chromaOfFirst.map { Double(a[$0]) / 255 }), 30)
        let frameBytes = 160 * 96 * 3 / 2, lumaBytes = 160 * 96
        for frame in 0..<(a.count / frameBytes) {
            func values(_ d: Data, _ range: Range<Int>) -> [Double] { range.map { Double(d[frame * frameBytes + $0]) / 255 } }
            let chroma = lumaBytes..<frameBytes, luma = 0..<lumaBytes
            XCTAssertGreaterThanOrEqual(psnr(values(b, chroma), values(a, chroma)), 35, "frame \(frame) chroma")
            XCTAssertLessThan(psnr(values(b, luma), values(a, luma)), 30, "frame \(frame) luma is stylized")
        }
    }

    // MARK: Orientation

    func testEXIFOrientationSixComesOutUpright() throws {
        let upright = try Picture(contentsOf: TestSupport.fixture("content_101x66.png"))
        let turned = try Picture(contentsOf: TestSupport.fixture("exif_orientation6.jpg"))
        XCTAssertEqual([turned.width, turned.height], [101, 66])
        XCTAssertGreaterThanOrEqual(turned.rgbImage.psnr(upright.rgbImage), 30)

        // As content: the output has the display's width and height.
        let dir = try TestSupport.temporaryDirectory(self)
        let out = dir.appendingPathComponent("out.png")
        let outcome = try TestSupport.stylize(["image", TestSupport.fixture("exif_orientation6.jpg").path, "-s", TestSupport.fixture("style_256.json").path,
                                               "-o", out.path])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let result = try Picture(contentsOf: out)
        XCTAssertEqual([result.width, result.height], [101, 66])
        // As style: the upright picture's vector, not the stored one's.
        let asStyle = try stylizer.styleVector(for: turned)
        XCTAssertGreaterThan(asStyle.cosine(try stylizer.styleVector(for: upright)),
                             asStyle.cosine(try stylizer.styleVector(for: upright.oriented(exif: 8))))
        // In a frame sequence.
        let frames = dir.appendingPathComponent("frames"), styled = dir.appendingPathComponent("styled")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: TestSupport.fixture("exif_orientation6.jpg"), to: frames.appendingPathComponent("f1.jpg"))
        let sequence = try TestSupport.stylize(["frames", frames.path, "-s", TestSupport.fixture("style_256.json").path, "-o", styled.path, "--format", "png"])
        XCTAssertEqual(sequence.status, 0, sequence.stderr)
        let frame = try Picture(contentsOf: styled.appendingPathComponent("f1.png"))
        XCTAssertEqual([frame.width, frame.height], [101, 66])
    }

    /// All eight orientations on a 3x2 picture: each undone by its inverse, and 6 is a
    /// quarter turn clockwise.
    func testEveryOrientation() {
        let picture = Picture(width: 3, height: 2, samples: (0..<18).map { UInt16($0) })
        let inverse = [1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6]
        for (o, back) in inverse {
            let shown = picture.oriented(exif: o)
            XCTAssertEqual([shown.width, shown.height], o >= 5 ? [2, 3] : [3, 2])
            XCTAssertEqual(shown.oriented(exif: back), picture, "orientation \(o)")
        }
        // Stored rows (a b c / d e f) turned clockwise show (d a / e b / f c).
        let pixel = { (p: Picture, x: Int, y: Int) in p.samples[(y * p.width + x) * 3] / 3 }
        let six = picture.oriented(exif: 6)
        XCTAssertEqual((0..<3).flatMap { y in (0..<2).map { x in pixel(six, x, y) } }, [3, 0, 4, 1, 5, 2])
        XCTAssertEqual(Set((1...8).map { picture.oriented(exif: $0).samples }).count, 8, "eight different pictures")
    }

    // MARK: Messages

    func testMessagesAFirstTimeUserMeets() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try FileManager.default.copyItem(at: TestSupport.fixture("style_256.json"), to: dir.appendingPathComponent("starry.json"))
        let content = TestSupport.fixture("content_96x96.png").path
        // A weight that is not a number, although the file exists.
        try assertFailsIn(dir, ["image", content, "-s", "starry.json:abc", "-o", "out.png"],
                          saying: "stylize: bad style: the weight \"abc\" of starry.json is not a number")
        // One part of a mix without a weight.
        try assertFailsIn(dir, ["image", content, "-s", "starry.json:0.7,starry.json", "-o", "out.png"],
                          saying: "stylize: bad style: starry.json has no weight in a mix whose other styles have one")
        // A missing input, as typed, by every command.
        try assertFailsIn(dir, ["image", "missing.png", "-s", "starry.json", "-o", "out.png"], saying: "stylize: missing.png: no such file")
        try assertFailsIn(dir, ["video", "missing.mp4", "-s", "starry.json", "-o", "out.mp4"], saying: "stylize: missing.mp4: no such file")
        try assertFailsIn(dir, ["image", content, "-s", "nowhere/starry.png", "-o", "out.png"], saying: "stylize: nowhere/starry.png: no such file")
        // The output formats, in the help.
        let help = try TestSupport.stylize(["image", "--help"])
        XCTAssertTrue(help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            .contains("Where to write the result: .png, .jpg, .bmp, .ppm, .pgm (grey), .tiff or .webp."), help.stdout)
    }

    func assertFailsIn(_ dir: URL, _ arguments: [String], saying message: String, line: UInt = #line) throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        let outcome = try TestSupport.stylize(arguments, in: dir)
        XCTAssertNotEqual(outcome.status, 0, line: line)
        XCTAssertTrue(outcome.stderr.hasPrefix(message), "stderr \"\(outcome.stderr)\" should start \"\(message)\"", line: line)
        XCTAssertEqual(outcome.stderr.split(separator: "\n").count, 1, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), before.sorted(), line: line)
    }
}
