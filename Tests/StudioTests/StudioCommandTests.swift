import Foundation
import StylizeTestSupport
import XCTest
@testable import StylizeStudio

/// `stylize studio` as a user starts it: the address it prints, and one-line refusals.
final class StudioCommandTests: XCTestCase {
    var binary: URL { Processes.stylize }

    /// `stylize studio` with `arguments`, and `environment` added to this process's.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["studio"] + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// The port in the address the studio prints first.
    func port(printedOn out: Pipe) throws -> String {
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let match = try XCTUnwrap(text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression), text)
        return String(text[match].dropFirst("http://127.0.0.1:".count).dropLast())
    }

    func testOneInterruptStopsItWithAnEventStreamOpen() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("studio-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try tool("ffmpeg", ["-v", "error", "-i", StudioFixture.sampleClip.path, "-t", "6", "-vf", "scale=320:-2",
                            "-c:v", "libx264", "-preset", "ultrafast", "-an", root.appendingPathComponent("a.mp4").path])
        let (studio, out, _) = try start(["--port", "0", "--root", root.path])
        defer { if studio.isRunning { kill(studio.processIdentifier, SIGKILL) }; studio.waitUntilExit() }
        let port = try XCTUnwrap(Int(try self.port(printedOn: out)))
        // A render is running and a page follows the queue, as an open studio tab does.
        let settings = #"{"path": "a.mp4", "style": "great-wave"}"#
        let submitted = try exchange(port: port, "POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                     + "Content-Length: \(settings.utf8.count)\r\nConnection: close\r\n\r\n\(settings)")
        XCTAssertTrue(submitted.hasPrefix("HTTP/1.1 201"), submitted)
        let events = try LoopbackSocket(port: port)
        try events.send("GET /api/jobs/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        var received = ""
        while !received.contains("\"state\":\"running\"") {
            let chunk = try events.receive()
            XCTAssertFalse(chunk.isEmpty, "the stream ended before the render ran: \(received)")
            if chunk.isEmpty { return }
            received += chunk
        }

        let interrupted = Date()
        studio.interrupt()
        let deadline = Date().addingTimeInterval(20)
        while studio.isRunning && Date() < deadline { usleep(20_000) }
        let seconds = Date().timeIntervalSince(interrupted)
        guard !studio.isRunning else { return XCTFail("still running 20 s after SIGINT with an event stream open") }
        XCTAssertLessThan(seconds, 2, "one SIGINT must stop the studio within 2 s")
        XCTAssertEqual(studio.terminationStatus, 0)
        // The stream was ended, not cut: its response finished.
        while let chunk = try? events.receive(), !chunk.isEmpty { received += chunk }
        XCTAssertTrue(received.hasSuffix("0\r\n\r\n"), "the event stream's last chunk: \(received.suffix(80))")

        // The queue is as it was: the interrupted render waits to run again, and nothing of it
        // was left in the renders folder.
        let (again, againOut, _) = try start(["--port", "0", "--root", root.path])
        defer { again.interrupt(); again.waitUntilExit() }
        let list = try exchange(port: try XCTUnwrap(Int(try self.port(printedOn: againOut))),
                                "GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(list.contains("\"state\":\"queued\"") || list.contains("\"state\":\"running\""), list)
        XCTAssertEqual(list.components(separatedBy: "\"id\":").count - 1, 1, list)
    }

    /// The golden set's studio case: a saved job (keyframes with a style picture from the root
    /// and a gallery style, brush size, stabilizer, CRF, and a mask with a second style
    /// outside) rendered by the studio, as a user starts it, gives the frames the manifest holds,
    /// and the command the studio shows for it gives the same frames.
    func testASavedJobRendersTheGoldenFramesAndItsCommandTheSame() throws {
        let root = try Processes.temporaryDirectory(self, prefix: "studio-golden")
        try tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1.2", "-f", "lavfi",
                            "-i", "sine=frequency=440:duration=1.2:sample_rate=48000", "-c:v", "ffv1", "-pix_fmt", "yuv420p",
                            "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-flags:v", "+bitexact", root.appendingPathComponent("clip.mkv").path])
        try tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "mandelbrot=size=128x128", "-frames:v", "1", root.appendingPathComponent("style.png").path])
        try tool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "color=black:size=96x64", "-vf", "drawbox=x=40:y=0:w=56:h=64:color=white:t=fill",
                            "-frames:v", "1", "-pix_fmt", "gray", root.appendingPathComponent("mask.png").path])
        let (studio, out, _) = try start(["--port", "0", "--root", root.path], environment: GoldenManifest.environment)
        defer { studio.interrupt(); studio.waitUntilExit() }
        let port = try XCTUnwrap(Int(try self.port(printedOn: out)))
        let settings = #"{"path": "clip.mkv", "output": "golden.mp4", "precision": "f32", "size": 48, "stabilize": 0.5, "crf": 20, "#
            + ##""keyframes": {"ease": "smooth", "keyframes": [{"time": 0, "style": "style.png"}, {"time": "#8", "style": "starry-night", "strength": 0.6}]}, "##
            + #""mask": "mask.png", "maskFeather": 2, "outside": "great-wave", "outsideStrength": 0.5}"#
        let submitted = try json(exchange(port: port, "POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                          + "Content-Length: \(settings.utf8.count)\r\nConnection: close\r\n\r\n\(settings)"))
        let id = try XCTUnwrap(submitted["id"] as? Int, "\(submitted)")
        var job: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(240)
        while !["done", "failed", "cancelled"].contains(job["state"] as? String ?? ""), Date() < deadline {
            usleep(100_000)
            let list = try json(exchange(port: port, "GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
            job = (list["jobs"] as? [[String: Any]] ?? []).first { $0["id"] as? Int == id } ?? [:]
        }
        XCTAssertEqual(job["state"] as? String, "done", "\(job)")
        let rendered = try GoldenManifest.digest(of: root.appendingPathComponent(try XCTUnwrap(job["output"] as? String)))

        // The command the studio shows, run from the root, paints the same frames (into a file
        // of the same name: the digest covers names).
        var words = try XCTUnwrap(job["command"] as? String).split(separator: " ").map(String.init).dropFirst()
        try FileManager.default.createDirectory(at: root.appendingPathComponent("again"), withIntermediateDirectories: true)
        words[words.firstIndex(of: "-o")! + 1] = "again/golden.mp4"
        let again = try Processes.run(binary, Array(words) + ["--quiet"], in: root, environment: GoldenManifest.environment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try GoldenManifest.digest(of: root.appendingPathComponent("again/golden.mp4")), rendered,
                       "the studio's command: \(job["command"] ?? "")")
        try GoldenManifest.compare(["studio-render": rendered])
    }

    /// The JSON object in an HTTP answer's body.
    func json(_ answer: String) throws -> [String: Any] {
        let body = try XCTUnwrap(answer.range(of: "\r\n\r\n").map { answer[$0.upperBound...] }, answer)
        let object = try XCTUnwrap(body.firstIndex(of: "{").map { body[$0...body.lastIndex(of: "}")!] }, answer)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any], answer)
    }

    /// One request on a fresh connection, and the whole answer.
    func exchange(port: Int, _ request: String) throws -> String {
        let socket = try LoopbackSocket(port: port)
        try socket.send(request)
        var answer = ""
        while case let chunk = try socket.receive(), !chunk.isEmpty { answer += chunk }
        return answer
    }

    func testPrintsItsAddressAndRefusesATakenPortInOneLine() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("studio-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let (first, out, _) = try start(["--port", "0", "--root", root.path])
        defer { first.terminate(); first.waitUntilExit() }
        // The first line: the address, on loopback, with the port the system gave.
        let port = try port(printedOn: out)
        XCTAssertNotEqual(port, "0")

        let (second, _, err) = try start(["--port", port, "--root", root.path])
        second.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(second.terminationStatus, 1)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.contains("port is in use") && message.contains("--port 0"), message)

        let (missing, _, missingErr) = try start(["--root", root.appendingPathComponent("nowhere").path])
        missing.waitUntilExit()
        XCTAssertEqual(missing.terminationStatus, 1)
        XCTAssertTrue(String(decoding: missingErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("is not a folder"))
        // The first studio still serves: a taken port does not disturb it.
        XCTAssertTrue(first.isRunning)
    }
}

/// A TCP connection to 127.0.0.1, for requests whose answers do not end (event streams).
final class LoopbackSocket {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard descriptor >= 0, connected == 0 else { throw StudioError.setup("cannot connect to 127.0.0.1:\(port)") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw StudioError.setup("cannot write to the studio") }
    }

    /// What arrived next; empty once the server has closed the connection.
    func receive() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = read(descriptor, &buffer, buffer.count)
        guard count >= 0 else { throw StudioError.setup("no answer from the studio within 30 s") }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
