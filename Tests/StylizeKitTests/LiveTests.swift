import Foundation
import StylizeKit
import StylizeTestSupport
import XCTest

/// `stylize live` and live jobs: a lavfi test source stands in for a camera, and ffmpeg sends
/// and receives UDP on 127.0.0.1.
final class LiveTests: XCTestCase {
    /// The test camera: a moving pattern in RGB, so that frames reach the network unconverted
    /// and can be compared with `stylize image` of the same pattern frame.
    static func camera(width: Int = 128, height: Int = 72, rate: Int = 10) -> String {
        "testsrc2=size=\(width)x\(height):rate=\(rate),format=rgb24"
    }

    /// Lossless RGB out, each frame on its own, in f32: frames comparable with stills.
    static let exact = ["--codec", "libx264rgb", "--crf", "0", "--no-stabilize", "--precision", "f32"]

    /// The presentation times of `url`'s video frames, in seconds.
    func frameTimes(_ url: URL) throws -> [Double] {
        try TestSupport.tool("ffprobe", ["-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time", "-of", "csv=p=0", url.path])
            // A frame with side data gets an empty field after its time.
            .split(separator: "\n").compactMap { $0.split(separator: ",").first.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } }
    }

    /// Frame `index` of the test camera (of `camera`'s settings) as a PNG.
    func cameraFrame(_ index: Int, _ camera: String = camera(), _ dir: URL) throws -> URL {
        let png = dir.appendingPathComponent("camera-\(index).png")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", camera, "-vf", "select=eq(n\\,\(index))",
                                        "-frames:v", "1", png.path])
        return png
    }

    /// Asserts that output frame `index` of `output` is the still of the camera frame at its
    /// time in `style`.
    func assertStill(_ output: URL, _ index: Int, style: String, _ dir: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let time = try XCTUnwrap(try frameTimes(output)[safe: index], "frame \(index)", file: file, line: line)
        let still = try still(try cameraFrame(Int((time * 10).rounded()), Self.camera(), dir), style: style, [], dir)
        let psnr = try picture(try framePNG(output, index, dir)).psnr(still)
        XCTAssertGreaterThanOrEqual(psnr, ClipPixelTests.samePixels, "frame \(index) at \(time) s is not the stylized camera frame",
                                    file: file, line: line)
    }

    func decodeJSON(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testCameraFramesAreStylizedOnTheirTimestampsAndCounted() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("live.mkv")
        let ran = try TestSupport.stylize(["live", Self.camera(), "--input-format", "lavfi", "-o", output.path, "-s", TestSupport.styleVectorFile.path,
                                           "--duration", "2", "--json"] + Self.exact)
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let report = try decodeJSON(ran.stdout)
        let live = try XCTUnwrap(report["live"] as? [String: Any])
        let (framesIn, framesOut, dropped) = (live["framesIn"] as? Int ?? -1, live["framesOut"] as? Int ?? -1, live["dropped"] as? Int ?? -1)
        // 2 s at 10 fps: frames 0..19 arrive, and each is written or dropped.
        XCTAssertEqual(framesIn, 20, ran.stdout)
        XCTAssertEqual(framesIn, framesOut + dropped)
        XCTAssertGreaterThan(framesOut, 0)
        XCTAssertEqual(report["frames"] as? Int, framesOut)
        let latency = try XCTUnwrap(live["latencyMilliseconds"] as? [String: Double])
        XCTAssertLessThanOrEqual(latency["p50"]!, latency["p99"]!)
        XCTAssertGreaterThan(latency["p50"]!, 0)

        let times = try frameTimes(output)
        XCTAssertEqual(times.count, framesOut)
        XCTAssertEqual(times, times.sorted(), "timestamps rise")
        XCTAssertTrue(times.allSatisfy { abs($0 * 10 - ($0 * 10).rounded()) < 0.01 && $0 < 2 }, "each on a camera frame's time: \(times)")
        for index in [0, times.count - 1] { try assertStill(output, index, style: TestSupport.styleVectorFile.path, dir) }
    }

    /// A live job in the library: the style changes while it runs, with no crossfade, and the
    /// frames after the change are in the new style.
    func testLiveStyleChangesTakeEffectWhileTheJobRuns() async throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let stylizer = try self.stylizer
        let second = try secondStyle(dir)
        let output = dir.appendingPathComponent("live.mkv")
        var job = StylizeJob(source: .live(LiveInput(Self.camera(), format: "lavfi")), output: .file(output),
                             style: .single(try StyleSpec(parsing: TestSupport.styleVectorFile.path)))
        (job.options.codec, job.options.crf, job.options.stabilization, job.options.precision) = ("libx264rgb", 0, 0, .f32)
        job.options.duration = 3
        let control = try LiveStyle(try StyleVectorFile.read(TestSupport.styleVectorFile), crossfade: 0)
        job.liveStyle = control
        let handle = job.start(with: stylizer)
        for await progress in handle.progress where progress.framesDone == 3 {
            try control.change(to: try StyleVectorFile.read(second))
        }
        let summary = try await handle.summary
        XCTAssertEqual(summary.live?.framesIn, 30)
        XCTAssertEqual(control.current.style, try StyleVectorFile.read(second))
        try assertStill(output, 0, style: TestSupport.styleVectorFile.path, dir)
        try assertStill(output, summary.frames - 1, style: second.path, dir)
    }

    func testCommandsOnStandardInputChangeTheLook() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let second = try secondStyle(dir)
        let output = dir.appendingPathComponent("live.mkv")
        let run = try Running(["live", Self.camera(), "--input-format", "lavfi", "-o", output.path, "-s", TestSupport.styleVectorFile.path,
                               "--duration", "3", "--crossfade", "0"] + Self.exact)
        run.send("strength 2\nstyle \(second.path)\nbrush 3\n")
        let ran = try run.finish(within: 120)
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertTrue(ran.stderr.contains("stylize: --strength must be between 0 and 1") || ran.stderr.contains("strength must be between 0 and 1"), ran.stderr)
        XCTAssertTrue(ran.stderr.contains("stylize: now style \(second.path)"), ran.stderr)
        XCTAssertTrue(ran.stderr.contains("commands are \"style STYLE\" and \"strength S\", got \"brush 3\""), ran.stderr)
        try assertStill(output, try frameTimes(output).count - 1, style: second.path, dir)
    }

    func testCtrlCFinishesTheRecordingAndReports() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("live.mp4")
        let run = try Running(["live", Self.camera(), "--input-format", "lavfi", "-o", output.path, "-s", "starry-night", "--json"])
        // Until frames are being written: the temporary file beside the output grows.
        let deadline = Date(timeIntervalSinceNow: 90)
        while Date() < deadline, (try FileManager.default.contentsOfDirectory(atPath: dir.path)).first(where: { $0.hasSuffix(".tmp") })
            .flatMap({ try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent($0).path)[.size] as? Int }) ?? 0 < 2000 {
            usleep(100_000)
        }
        run.interrupt()
        let ran = try run.finish(within: 30)
        XCTAssertEqual(ran.status, 0, "a stop is a live job's normal end: \(ran.stderr)")
        let frames = try XCTUnwrap((try decodeJSON(ran.stdout)["live"] as? [String: Any])?["framesOut"] as? Int)
        XCTAssertGreaterThan(frames, 0)
        let counted = try TestSupport.tool("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames",
                                                       "-of", "csv=p=0", output.path])
        XCTAssertEqual(Int(counted.trimmingCharacters(in: .whitespacesAndNewlines)), frames, "the MP4 is finished and holds every frame")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["live.mp4"], "no temporary file left")
    }

    func testUDPInAndUDPOut() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (inPort, outPort) = (try UDPReceiver.freePort(), try UDPReceiver.freePort())
        let received = dir.appendingPathComponent("received.ts")
        let receiver = try UDPReceiver(port: outPort)
        let live = try Running(["live", "udp://127.0.0.1:\(inPort)", "-o", "udp://127.0.0.1:\(outPort)", "-s", "starry-night",
                                "--duration", "3", "--json", "--input-timeout", "60"])
        try waitForUDPListener(port: inPort)
        // A camera-like stream: a keyframe every second, sent in real time.
        try TestSupport.tool("ffmpeg", ["-v", "error", "-re", "-f", "lavfi", "-i", Self.camera(width: 160, height: 90, rate: 15), "-t", "5",
                                        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p",
                                        "-f", "mpegts", "udp://127.0.0.1:\(inPort)?pkt_size=1316"])
        let ran = try live.finish(within: 60)
        XCTAssertEqual(ran.status, 0, ran.stderr)
        try receiver.finish().write(to: received)
        let written = try XCTUnwrap((try decodeJSON(ran.stdout)["live"] as? [String: Any])?["framesOut"] as? Int)
        let info = try TestSupport.tool("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
                                                    "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", received.path])
        let fields = info.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",")
        XCTAssertEqual(fields.prefix(3).joined(separator: ","), "h264,160,90", info)
        XCTAssertEqual(Int(fields.last ?? ""), written, "every frame written arrives: \(info)")
        // Stylized: far from the camera's own pattern.
        let first = try picture(try framePNG(received, 0, dir))
        let plain = try picture(try cameraFrame(0, Self.camera(width: 160, height: 90, rate: 15), dir))
        XCTAssertLessThan(first.psnr(plain), 20)
    }

    func testMoreFramesThanTheMachineCanStylizeAreDroppedNotQueued() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        // 200 frames a second at 640x360: beyond what two cores stylize.
        let ran = try TestSupport.stylize(["live", "testsrc2=size=640x360:rate=200", "--input-format", "lavfi", "-o",
                                           dir.appendingPathComponent("live.mkv").path, "-s", "starry-night", "--duration", "4", "--json"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let live = try XCTUnwrap(try decodeJSON(ran.stdout)["live"] as? [String: Any])
        let (framesIn, framesOut) = (live["framesIn"] as? Int ?? 0, live["framesOut"] as? Int ?? 0)
        let latency = try XCTUnwrap(live["latencyMilliseconds"] as? [String: Double])
        print("overload: \(framesIn) in, \(framesOut) out, latency \(latency)")
        XCTAssertEqual(framesIn, 800)
        XCTAssertLessThan(framesOut, framesIn / 2)
        XCTAssertEqual(live["dropped"] as? Int, framesIn - framesOut)
        // Queued frames would wait for every frame before them: latency would climb all run long.
        // Dropped ones leave each frame at most one frame's work and one wait behind.
        let perFrame = (ran.stdout.isEmpty ? 0 : 4000.0 / Double(max(framesOut, 1)))
        XCTAssertLessThan(latency["p99"]!, 3 * perFrame + 100, "latency stays near one frame's time (\(perFrame) ms)")
    }

    func testBadSourcesAndOutputsGetOneLineAndNoOutput() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let output = dir.appendingPathComponent("live.mkv").path
        let port = try UDPReceiver.freePort()
        let cases: [([String], String)] = [
            (["/dev/video63"], "/dev/video63: no such device"),
            (["udp://127.0.0.1:\(port)", "--input-timeout", "1"], "nothing arrived within 1 s"),
            (["testsrc2", "--input-format", "nosuchformat"], "unknown input format nosuchformat"),
            (["nosuchfilter=1", "--input-format", "lavfi"], "nosuchfilter=1"),
            (["testsrc2", "--input-format", "lavfi", "--input-size", "wide"], "the input size takes WIDTHxHEIGHT"),
        ]
        for (source, message) in cases {
            try assertFails(["live"] + source + ["-o", output, "-s", "starry-night"], in: dir, saying: message)
        }
        try assertFails(["live", "testsrc2", "--input-format", "lavfi", "-o", "/dev/video63", "-s", "starry-night"], in: dir,
                        saying: "/dev/video63: no such device; a virtual camera needs the v4l2loopback module")
        // Nobody sends: the default wait ends the job, not a hang.
        let started = Date()
        try assertFails(["live", "udp://127.0.0.1:\(port)", "-o", output, "-s", "starry-night"], in: dir, saying: "nothing arrived within 4 s")
        print("a silent source was given up after \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// `LiveFrames`, the library's newest-frame reader: a still lavfi source comes back as RGBA,
    /// as FFmpeg converts it; a silent source is given up at its timeout.
    func testLiveFramesGiveTheNewestFrameInMemory() throws {
        let bars = "smptebars=size=160x90:rate=10"
        let frames = try LiveFrames(LiveInput(bars, format: "lavfi"))
        defer { frames.stop() }
        let frame = try XCTUnwrap(try frames.newest(waiting: 5), "no frame in 5 s")
        XCTAssertEqual([frame.width, frame.height], [160, 90])
        XCTAssertEqual(frame.format, .rgba)
        let raw = try TestSupport.temporaryDirectory(self).appendingPathComponent("bars.rgba")
        try TestSupport.tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", bars, "-frames:v", "1", "-pix_fmt", "rgba", "-f", "rawvideo", raw.path])
        let expected = try Data(contentsOf: raw)
        XCTAssertEqual(frame.bytes.count, 160 * 90 * 4)
        // The seven bars' colours, at their centres (their 4:2:0 chroma edges are filtered
        // differently by FFmpeg's default conversion and by StylizeKit's), within 3 levels.
        for bar in 0..<7 {
            let i = (20 * 160 + (2 * bar + 1) * 160 / 14) * 4
            for c in 0..<3 {
                XCTAssertEqual(Double(frame.bytes[i + c]), Double(expected[expected.startIndex + i + c]), accuracy: 3, "bar \(bar), channel \(c)")
            }
        }
        XCTAssertTrue(stride(from: 3, to: frame.bytes.count, by: 4).allSatisfy { frame.bytes[$0] == 255 }, "opaque")

        var silent = LiveInput("udp://127.0.0.1:\(try UDPReceiver.freePort())")
        silent.timeout = 1
        let started = Date()
        XCTAssertThrowsError(try LiveFrames(silent)) { XCTAssertTrue("\($0)".contains("nothing arrived within 1 s"), "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    /// Without an output, `stylize live` shows the source on the studio's page: it opens the source
    /// first (a bad one fails in one line), and refuses what goes with an output only.
    func testWithoutAnOutputTheSourceIsCheckedFirstAndOutputOptionsRefused() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let port = try UDPReceiver.freePort()
        let started = Date()
        try assertFails(["live", "udp://127.0.0.1:\(port)", "--input-timeout", "1", "-s", "starry-night", "--port", "0"], in: dir,
                        saying: "nothing arrived within 1 s")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        try assertFails(["live", "testsrc2", "--input-format", "lavfi", "-s", "starry-night", "--json"], in: dir,
                        saying: "go with an output (-o)")
    }

    func testJobDescribesItsCommandAndRefusesWhatLiveCannotDo() throws {
        var input = LiveInput("/dev/video0", size: "640x360", frameRate: "30")
        input.options["input_format"] = "mjpeg"
        var job = StylizeJob(source: .live(input), output: .stream("udp://127.0.0.1:5000"),
                             style: .single(try StyleSpec(parsing: "starry-night"), strength: 0.5))
        job.options.outputFormat = "mpegts"
        XCTAssertEqual(job.shellCommand, "stylize live /dev/video0 -o udp://127.0.0.1:5000 -s starry-night --strength 0.5 --format mpegts "
                       + "--input-size 640x360 --input-fps 30 --input-option input_format=mjpeg")
        XCTAssertNoThrow(try job.validate())
        var keyed = job
        keyed.style = .keyframes([try KeyframeSpec(time: .seconds(0), style: try StyleSpec(parsing: "starry-night"))])
        XCTAssertThrowsError(try keyed.validate()) { XCTAssertTrue("\($0)".contains("a live source takes one style"), "\($0)") }
        var seeking = job
        seeking.options.start = 2
        XCTAssertThrowsError(try seeking.validate()) { XCTAssertTrue("\($0)".contains("no start"), "\($0)") }
    }

    /// Waits until some process listens on UDP `port` (the kernel's socket table says so).
    func waitForUDPListener(port: Int) throws {
        let deadline = Date(timeIntervalSinceNow: 90)
        let local = String(format: ":%04X ", port)
        while Date() < deadline {
            if let table = try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8), table.contains(local) { return }
            usleep(50_000)
        }
        XCTFail("nothing listens on UDP port \(port)")
    }
}

/// A program running in the background, with its standard input open.
final class Running {
    let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()

    convenience init(_ arguments: [String]) throws {
        try self.init(TestSupport.executable, arguments)
    }

    init(_ executable: URL, _ arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        (process.standardInput, process.standardOutput, process.standardError) = (input, output, errors)
        try process.run()
    }

    func send(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
    }

    func interrupt() { kill(process.processIdentifier, SIGINT) }

    /// Waits for the program to end (killing it after `seconds`, which fails the test).
    func finish(within seconds: Double) throws -> TestSupport.Outcome {
        try? input.fileHandleForWriting.close()
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(process.arguments?.joined(separator: " ") ?? "") did not end within \(seconds) s")
        }
        process.waitUntilExit()
        return TestSupport.Outcome(status: process.terminationStatus,
                                 stdout: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                                 stderr: String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                                 crashed: process.terminationReason == .uncaughtSignal)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// Collects what arrives on a UDP port of 127.0.0.1, on a thread of its own.
final class UDPReceiver: @unchecked Sendable {
    private let socket: Int32
    private let received = Locked(Data())
    private let done = DispatchSemaphore(value: 0)
    private let stopping = Locked(false)

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 } }
        guard bound else { throw Processes.Failure(message: "cannot bind UDP port \(port)") }
        var wait = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !stopping.withLock({ $0 }) {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count > 0 { received.withLock { $0.append(contentsOf: buffer[0..<count]) } }
            }
            done.signal()
        }
    }

    /// Stops once nothing more has arrived for a second, and gives what arrived.
    func finish() -> Data {
        var size = -1
        while size != received.withLock({ $0.count }) {
            size = received.withLock { $0.count }
            sleep(1)
        }
        stopping.withLock { $0 = true }
        done.wait()
        close(socket)
        return received.withLock { $0 }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// A UDP port nobody on 127.0.0.1 uses now.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(socket) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw Processes.Failure(message: "no free UDP port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
