import Foundation
import XCTest

@testable import StylizeKit

/// `FrameSession` on frames in memory gives what `stylize video` gives for the same frames.
final class FrameSessionTests: XCTestCase {
    static let (width, height, count) = (640, 360, 100)

    /// The first `count` frames of the sample at 640x360 as raw `pixelFormat` bytes, and as a
    /// lossless FFV1 clip of the same pixels for `stylize video`.
    func frames(_ dir: URL, pixelFormat: String, count: Int = FrameSessionTests.count) throws -> (raw: Data, clip: URL) {
        let raw = dir.appendingPathComponent("frames.\(pixelFormat)"), clip = dir.appendingPathComponent("frames-\(pixelFormat).mkv")
        let cut = ["-v", "error", "-i", VideoTests.sample.path, "-frames:v", "\(count)", "-vf", "scale=\(Self.width):\(Self.height)",
                   "-an", "-pix_fmt", pixelFormat]
        try TestSupport.tool("ffmpeg", cut + ["-f", "rawvideo", raw.path])
        try TestSupport.tool("ffmpeg", cut + ["-c:v", "ffv1", clip.path])
        return (try Data(contentsOf: raw), clip)
    }

    func run(_ arguments: [String]) throws {
        let ran = try TestSupport.stylize(arguments)
        XCTAssertEqual(ran.status, 0, ran.stderr)
    }

    /// Decoded frames of `url` as raw `pixelFormat` bytes.
    func decoded(_ url: URL, pixelFormat: String, in dir: URL) throws -> Data {
        let raw = dir.appendingPathComponent("decoded-\(UUID().uuidString)")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-i", url.path, "-pix_fmt", pixelFormat, "-f", "rawvideo", raw.path])
        return try Data(contentsOf: raw)
    }

    /// Per-frame PSNR of two runs of frames of `frameBytes` each, over every byte but alpha's.
    func psnrs(_ a: Data, _ b: Data, frameBytes: Int, skipping alpha: Int? = nil) -> [Double] {
        XCTAssertEqual(a.count, b.count)
        let count = min(a.count, b.count)
        return a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                stride(from: 0, to: count, by: frameBytes).map { start in
                    var sum = 0, n = 0
                    for i in start..<(start + frameBytes) where alpha == nil || (i - start) % 4 != alpha! {
                        let d = Int(a[i]) - Int(b[i])
                        sum += d * d
                        n += 1
                    }
                    return sum == 0 ? .infinity : 10 * log10(255 * 255 / (Double(sum) / Double(n)))
                }
            }
        }
    }

    /// Runs `raw` (frames of `format`) through a session into frames of `format`.
    func session(_ raw: Data, format: FramePixelFormat, stabilization: Double, count: Int = FrameSessionTests.count) throws -> Data {
        var options = FrameSessionOptions()
        options.stabilization = stabilization
        let stylizer = try TestSupport.stylizer.get()
        let style = try stylizer.styleVector(for: StyleSpec(parsing: "starry-night"))
        let session = try FrameSession(stylizer: stylizer, style: style, width: Self.width, height: Self.height, options: options)
        let frameBytes = raw.count / count
        var output = Data()
        for index in 0..<count {
            var input = try PixelFrame(format: format, width: Self.width, height: Self.height,
                                       bytes: [UInt8](raw[(index * frameBytes)..<((index + 1) * frameBytes)]))
            var result = try PixelFrame(format: format, width: Self.width, height: Self.height)
            try input.withBuffer { source in try result.withBuffer { try session.stylize(source, into: $0) } }
            output.append(contentsOf: result.bytes)
        }
        return output
    }

    /// A session on a live style paints each frame in the style of the moment: after a change
    /// (with no crossfade), exactly what a session made for the new style paints.
    func testALiveStyleChangesTheNextFrame() throws {
        let stylizer = try TestSupport.stylizer.get()
        let (first, second) = (try stylizer.styleVector(for: StyleSpec(parsing: "starry-night")),
                               try stylizer.styleVector(for: StyleSpec(parsing: "great-wave")))
        var options = FrameSessionOptions()
        options.stabilization = 0
        let live = try LiveStyle(first, crossfade: 0)
        let changing = try FrameSession(stylizer: stylizer, liveStyle: live, width: 96, height: 64, options: options)
        let fixed = try [first, second].map { try FrameSession(stylizer: stylizer, style: $0, width: 96, height: 64, options: options) }
        var input = try PixelFrame(format: .rgba, width: 96, height: 64, bytes: (0..<(96 * 64 * 4)).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 384) })
        func paint(_ session: FrameSession) throws -> [UInt8] {
            var output = try PixelFrame(format: .rgba, width: 96, height: 64)
            try input.withBuffer { source in try output.withBuffer { try session.stylize(source, into: $0) } }
            return output.bytes
        }
        XCTAssertEqual(try paint(changing), try paint(fixed[0]))
        try live.change(to: second)
        XCTAssertEqual(try paint(changing), try paint(fixed[1]))
        XCTAssertNotEqual(try paint(fixed[0]), try paint(fixed[1]))
    }

    /// RGBA frames through a session against the same frames through `stylize video` into
    /// lossless RGB (libx264rgb at CRF 0), with the stabilizer on and off.
    func testRGBAFramesMatchTheClipPath() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (raw, clip) = try frames(dir, pixelFormat: "rgba")
        for stabilization in [0.0, 0.7] {
            let video = dir.appendingPathComponent("video-\(stabilization).mkv")
            var arguments = ["video", clip.path, "-s", "starry-night", "-o", video.path, "--codec", "libx264rgb", "--crf", "0"]
            if stabilization == 0 { arguments.append("--no-stabilize") }
            try run(arguments)
            let expected = try decoded(video, pixelFormat: "rgba", in: dir)
            let frames = try session(raw, format: .rgba, stabilization: stabilization)
            let values = psnrs(frames, expected, frameBytes: Self.width * Self.height * 4, skipping: 3)
            XCTAssertEqual(values.count, Self.count)
            print("FrameSessionTests: RGBA, stabilization \(stabilization): lowest \(values.min() ?? 0) dB, median \(values.sorted()[values.count / 2]) dB")
            XCTAssertGreaterThanOrEqual(values.min() ?? 0, 45, "stabilization \(stabilization)")
        }
    }

    /// 4:2:0 frames (planar and NV12, 30 of them) through a session, against `stylize video` of
    /// the planar frames into FFV1, stabilized: planar goes through the network's own colour
    /// conversion on both sides.
    func testYUVFramesMatchTheClipPath() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let count = 30
        let (planar, clip) = try frames(dir, pixelFormat: "yuv420p", count: count)
        let (nv12, _) = try frames(dir, pixelFormat: "nv12", count: count)
        let video = dir.appendingPathComponent("video.mkv")
        try run(["video", clip.path, "-s", "starry-night", "-o", video.path, "--codec", "ffv1"])
        let expected = try decoded(video, pixelFormat: "yuv420p", in: dir)
        let frameBytes = Self.width * Self.height * 3 / 2
        let fromPlanar = psnrs(try session(planar, format: .yuv420p, stabilization: 0.7, count: count), expected, frameBytes: frameBytes)
        print("FrameSessionTests: 4:2:0, lowest \(fromPlanar.min() ?? 0) dB")
        XCTAssertGreaterThanOrEqual(fromPlanar.min() ?? 0, 45)
        // NV12 in, NV12 out: the same pictures, through FFmpeg's scaler instead.
        let fromNV12 = psnrs(try session(nv12, format: .nv12, stabilization: 0.7, count: count), try decoded(video, pixelFormat: "nv12", in: dir),
                             frameBytes: frameBytes)
        print("FrameSessionTests: NV12, lowest \(fromNV12.min() ?? 0) dB")
        XCTAssertGreaterThanOrEqual(fromNV12.min() ?? 0, 35)
    }

    /// Buffers that do not fit their format, or the session's size, are refused with a message.
    func testBadBuffersAreRefused() throws {
        var bytes = [UInt8](repeating: 0, count: 64 * 64 * 4)
        try bytes.withUnsafeMutableBytes { memory in
            let base = memory.baseAddress!
            XCTAssertThrowsError(try FrameBuffer(format: .rgba, width: 64, height: 64, planes: [base], strides: [100])) {
                XCTAssertTrue("\($0)".contains("stride is 100"), "\($0)")
            }
            XCTAssertThrowsError(try FrameBuffer(format: .yuv420p, width: 64, height: 64, planes: [base], strides: [64]))
            XCTAssertThrowsError(try FrameBuffer(format: .rgba, width: 0, height: 64, planes: [base], strides: [256]))
            let stylizer = try TestSupport.stylizer.get()
            let style = try stylizer.styleVector(for: StyleSpec(parsing: "starry-night"))
            let session = try FrameSession(stylizer: stylizer, style: style, width: 32, height: 32)
            let buffer = try FrameBuffer(format: .rgba, width: 64, height: 64, planes: [base], strides: [256])
            XCTAssertThrowsError(try session.stylize(buffer, into: buffer)) { XCTAssertTrue("\($0)".contains("64x64"), "\($0)") }
        }
        XCTAssertThrowsError(try PixelFrame(format: .nv12, width: 4, height: 4, bytes: [1, 2, 3]))
    }

    /// The async transform gives one stylized frame per frame, in order, equal to the sync calls.
    func testAsyncTransform() async throws {
        let stylizer = try TestSupport.stylizer.get()
        let style = try stylizer.styleVector(for: StyleSpec(parsing: "great-wave"))
        let (width, height) = (96, 64)
        let inputs = try (0..<4).map { k in
            let bytes: [UInt8] = (0..<(width * height * 4)).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: i * (k + 3) / 7) }
            return try PixelFrame(format: .rgba, width: width, height: height, bytes: bytes, seconds: Double(k) / 30)
        }
        let stream = AsyncStream<PixelFrame> { continuation in
            for frame in inputs { continuation.yield(frame) }
            continuation.finish()
        }
        var outputs: [PixelFrame] = []
        for try await frame in try FrameSession(stylizer: stylizer, style: style, width: width, height: height).stylized(stream, as: .yuv420p) {
            outputs.append(frame)
        }
        XCTAssertEqual(outputs.map { $0.seconds }, inputs.map { $0.seconds })
        XCTAssertEqual(outputs.map { $0.format }, [FramePixelFormat](repeating: .yuv420p, count: 4))
        let session = try FrameSession(stylizer: stylizer, style: style, width: width, height: height)
        for (input, output) in zip(inputs, outputs) {
            var input = input
            var expected = try PixelFrame(format: .yuv420p, width: width, height: height)
            try input.withBuffer { source in try expected.withBuffer { try session.stylize(source, into: $0) } }
            XCTAssertEqual(expected.bytes, output.bytes)
        }
    }
}
