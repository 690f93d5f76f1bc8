import Foundation
import XCTest
@testable import StylizeKit

/// Split jobs: `stylize video --frames A..B` pieces put together by `stylize join`, against a
/// single-process job on the same clip (the Dask driver's tests run the same over a cluster).
final class PieceTests: XCTestCase {
    var style: String { TestSupport.styleVectorFile.path }

    /// 90 frames at 25 fps with a keyframe every 30 and a tone: small enough to stylize fast.
    func clip(_ dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("clip.mp4")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x72:rate=25:duration=3.6", "-f", "lavfi",
                                        "-i", "sine=frequency=330:duration=3.6", "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p",
                                        "-c:a", "aac", "-shortest", url.path])
        return url
    }

    func probe(_ url: URL, _ stream: String, _ entries: String) throws -> [String] {
        try TestSupport.tool("ffprobe", ["-v", "error", "-select_streams", stream, "-show_entries", entries, "-of", "csv=p=0", url.path])
            .split(whereSeparator: \.isNewline).map(String.init)
    }

    /// Per-frame MD5 of the decoded pictures.
    func frameHashes(_ url: URL) throws -> [String] {
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", url.path, "-map", "0:v", "-f", "framemd5", "-"])
            .split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("#") }.map { String($0.split(separator: ",").last!).trimmingCharacters(in: .whitespaces) }
    }

    func makePieces(_ input: URL, _ ranges: [String], in dir: URL, _ options: [String]) throws -> [String] {
        try ranges.map { range in
            let piece = dir.appendingPathComponent("piece-\(range).nut").path
            let outcome = try TestSupport.stylize(["video", input.path, "-s", style, "-o", piece, "--frames", range] + options)
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
            return piece
        }
    }

    /// Lossless and per frame: the joined clip is the single-process clip, frame for frame, with
    /// the same timestamps and the same audio packets.
    func testJoinedPiecesAreTheSingleProcessClip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let options = ["--crf", "0", "--no-stabilize"]
        let single = dir.appendingPathComponent("single.mp4")
        XCTAssertEqual(try TestSupport.stylize(["video", input.path, "-s", style, "-o", single.path] + options).status, 0)
        // Boundaries on keyframes (30, 60) and off them (45).
        let pieces = try makePieces(input, ["0..30", "30..45", "45..60", "60..90"], in: dir, options)
        let joined = dir.appendingPathComponent("joined.mp4")
        let outcome = try TestSupport.stylize(["join"] + pieces.reversed() + ["-o", joined.path, "--audio-from", input.path, "--json"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["frames"] as? Int, 90)
        XCTAssertEqual(try frameHashes(joined), try frameHashes(single))
        XCTAssertEqual(try frameHashes(joined).count, 90)
        XCTAssertEqual(try probe(joined, "v:0", "packet=pts"), try probe(single, "v:0", "packet=pts"))
        XCTAssertEqual(try probe(joined, "a:0", "packet=pts,size"), try probe(single, "a:0", "packet=pts,size"))
        // And the pieces are video only.
        XCTAssertEqual(try probe(URL(fileURLWithPath: pieces[0]), "a", "stream=index"), [])
    }

    /// With a mask clip (matched by time) and a mask folder (matched by index), each piece takes
    /// the masks of its own frames: the joined clip is the single-process clip, frame for frame.
    func testMaskedPiecesAreTheSingleProcessClip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        // The white half moves from the right to the left at 1.8 s (frame 45).
        let halves = { (rate: Int) in
            "color=black:size=128x72:rate=\(rate):duration=1.8,drawbox=x=64:y=0:w=64:h=72:color=white:t=fill[a];"
                + "color=black:size=128x72:rate=\(rate):duration=1.8,drawbox=x=0:y=0:w=64:h=72:color=white:t=fill[b];[a][b]concat"
        }
        let maskClip = dir.appendingPathComponent("mask.mkv"), maskFolder = dir.appendingPathComponent("masks")
        try FileManager.default.createDirectory(at: maskFolder, withIntermediateDirectories: true)
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", halves(10), "-c:v", "ffv1", maskClip.path])
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", halves(25), maskFolder.appendingPathComponent("m%03d.png").path])
        for mask in [maskClip, maskFolder] {
            let options = ["--crf", "0", "--no-stabilize", "--mask", mask.path]
            let single = dir.appendingPathComponent("single-\(mask.lastPathComponent).mp4")
            XCTAssertEqual(try TestSupport.stylize(["video", input.path, "-s", style, "-o", single.path] + options).status, 0)
            let pieces = try makePieces(input, ["0..30", "30..50", "50..90"], in: dir, options + ["--overwrite"])
            let joined = dir.appendingPathComponent("joined-\(mask.lastPathComponent).mp4")
            let outcome = try TestSupport.stylize(["join"] + pieces + ["-o", joined.path, "--audio-from", input.path])
            XCTAssertEqual(outcome.status, 0, outcome.stderr)
            XCTAssertEqual(try frameHashes(joined), try frameHashes(single), "\(mask.lastPathComponent): the joined clip differs")
        }
    }

    /// With the stabilizer, warm-up frames give each piece the single process's state: every
    /// frame within 40 dB, boundaries included.
    func testStabilizedPiecesJoinWithoutSeams() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let single = dir.appendingPathComponent("single.mp4")
        XCTAssertEqual(try TestSupport.stylize(["video", input.path, "-s", style, "-o", single.path, "--crf", "0"]).status, 0)
        let pieces = try makePieces(input, ["0..45", "45..90"], in: dir, ["--crf", "0"])
        let joined = dir.appendingPathComponent("joined.mp4")
        XCTAssertEqual(try TestSupport.stylize(["join"] + pieces + ["-o", joined.path, "--audio-from", input.path]).status, 0)
        let values = try psnr(single, joined, dir)
        XCTAssertEqual(values.count, 90)
        XCTAssertGreaterThanOrEqual(values.min() ?? 0, 40, "frame \(values.firstIndex(of: values.min() ?? 0) ?? -1)")
        // Without warm-up the second piece starts from a fresh stabilizer, and its first frame
        // is further from the single-process one.
        let cold = dir.appendingPathComponent("cold.nut").path
        let ran = try TestSupport.stylize(["video", input.path, "-s", style, "-o", cold, "--frames", "45..90", "--warmup", "0", "--crf", "0"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let joinedCold = dir.appendingPathComponent("joined-cold.mp4")
        XCTAssertEqual(try TestSupport.stylize(["join", pieces[0], cold, "-o", joinedCold.path, "--audio-from", input.path]).status, 0)
        let coldValues = try psnr(single, joinedCold, dir)
        print("stabilized pieces: frame 45 at \(values[45]) dB with warm-up, \(coldValues[45]) dB without; lowest \(values.min()!) dB")
        XCTAssertLessThan(coldValues[45], values[45])
    }

    /// PSNR (dB, average of the planes) of every frame of `b` against `a`.
    func psnr(_ a: URL, _ b: URL, _ dir: URL) throws -> [Double] {
        let log = dir.appendingPathComponent(UUID().uuidString + ".log")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", a.path, "-i", b.path, "-lavfi", "[0:v][1:v]psnr=stats_file=\(log.path)", "-f", "null", "-"])
        return try String(contentsOf: log, encoding: .utf8).split(whereSeparator: \.isNewline).compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("psnr_avg:") }.map { $0.dropFirst("psnr_avg:".count) }.map { $0 == "inf" ? Double.infinity : Double($0)! }
        }
    }

    func testJoinRefusesGapsOverlapsAndMixedSettings() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let options = ["--crf", "0", "--no-stabilize", "--size", "32"]
        let pieces = try makePieces(input, ["0..40", "40..90", "30..60"], in: dir, options)
        let out = dir.appendingPathComponent("out.mp4").path
        try assertFails(["join", pieces[0], "-o", out, "--audio-from", input.path], in: dir, saying: "frames 40..90 of \(input.path) are in no piece")
        try assertFails(["join", pieces[0], pieces[1], pieces[2], "-o", out, "--audio-from", input.path], in: dir,
                        saying: "frames 30..40 are in more than one piece")
        let other = try TestSupport.stylize(["video", input.path, "-s", style, "-o", dir.appendingPathComponent("other.nut").path,
                                             "--frames", "40..90", "--crf", "0", "--no-stabilize", "--size", "48"])
        XCTAssertEqual(other.status, 0, other.stderr)
        try assertFails(["join", pieces[0], dir.appendingPathComponent("other.nut").path, "-o", out, "--audio-from", input.path], in: dir,
                        saying: "was made with other settings")
        try assertFails(["join", input.path, "-o", out, "--audio-from", input.path], in: dir, saying: "is not a piece made by stylize video --frames")
        try assertFails(["video", input.path, "-s", style, "-o", dir.appendingPathComponent("late.nut").path, "--frames", "80..95"], in: dir,
                        saying: "frames 80..95 go past the end of \(input.path), which has 90 frames")
    }

    /// A piece given the clip's layout (`probe --timestamps`) is the piece that scans the file;
    /// a layout of a file that changed since is refused.
    func testLayoutSparesTheScanAndIsCheckedAgainstTheFile() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let probed = try TestSupport.stylize(["probe", input.path, "--timestamps"])
        XCTAssertEqual(probed.status, 0, probed.stderr)
        let layout = try JSONDecoder().decode(ClipLayout.self, from: Data(probed.stdout.utf8))
        XCTAssertEqual(layout.frames, 90)
        XCTAssertEqual(layout.keyframes, [0, 30, 60])
        XCTAssertEqual(layout.timestamps?.count, 90)
        let layoutFile = dir.appendingPathComponent("layout.json")
        try probed.stdout.write(to: layoutFile, atomically: true, encoding: .utf8)
        let options = ["--crf", "0", "--no-stabilize", "--frames", "45..60"]
        let scanned = dir.appendingPathComponent("scanned.nut"), given = dir.appendingPathComponent("given.nut")
        XCTAssertEqual(try TestSupport.stylize(["video", input.path, "-s", style, "-o", scanned.path] + options).status, 0)
        XCTAssertEqual(try TestSupport.stylize(["video", input.path, "-s", style, "-o", given.path, "--layout", layoutFile.path] + options).status, 0)
        XCTAssertEqual(try frameHashes(given), try frameHashes(scanned))
        XCTAssertEqual(try probe(given, "v:0", "packet=pts"), try probe(scanned, "v:0", "packet=pts"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: input.path)
        try assertFails(["video", input.path, "-s", style, "-o", dir.appendingPathComponent("late.nut").path, "--layout", layoutFile.path] + options,
                        in: dir, saying: "has changed since its frame layout was written: probe it again")
    }

    /// A job killed with SIGKILL cannot remove its temporary file; the next job writing the
    /// same output does, and leaves other processes' files alone.
    func testStaleTemporaryOutputsAreCleared() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let input = try clip(dir)
        let output = dir.appendingPathComponent("out.mp4")
        // A process that has surely ended: one this test ran and waited for.
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let stale = dir.appendingPathComponent(".out.mp4.\(OutputFile.hostName).\(ended.processIdentifier).tmp")
        let live = dir.appendingPathComponent(".out.mp4.\(OutputFile.hostName).\(getpid()).tmp")
        let otherMachine = dir.appendingPathComponent(".out.mp4.some-other-host.\(ended.processIdentifier).tmp")
        for url in [stale, live, otherMachine] { XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: Data("x".utf8))) }
        let outcome = try TestSupport.stylize(["video", input.path, "-s", style, "-o", output.path, "--size", "32", "--no-stabilize"])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "the dead job's file is gone")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "a live process's file stays")
        XCTAssertTrue(FileManager.default.fileExists(atPath: otherMachine.path), "another machine's file stays")
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path))
    }
}
