import Foundation
import XCTest
@testable import StylizeStudio

/// `stylize studio` as a user starts it: the address it prints, and one-line refusals.
final class StudioCommandTests: XCTestCase {
    var binary: URL {
        let bundle = Bundle(for: Self.self).bundleURL
        return [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("stylize") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? bundle
    }

    func start(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["studio"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    func testPrintsItsAddressAndRefusesATakenPortInOneLine() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("studio-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let (first, out, _) = try start(["--port", "0", "--root", root.path])
        defer { first.terminate(); first.waitUntilExit() }
        // The first line: the address, on loopback, with the port the system gave.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let match = try XCTUnwrap(text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression), text)
        let port = String(text[match].dropFirst("http://127.0.0.1:".count).dropLast())
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
