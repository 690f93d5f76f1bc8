import Foundation
import StylizeKit
import XCTest

/// What every test suite shares: running programs (the `stylize` binary the tests were built
/// with, ffmpeg and ffprobe) and throwaway folders.
public enum Processes {
    /// A program built into the same folder as the test bundle (`stylize`).
    public static func built(_ name: String) -> URL {
        let tests = Bundle.main.bundleURL
        let candidates = [tests, tests.deletingLastPathComponent(), URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent(name) }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// The `stylize` executable the tests were built with.
    public static var stylize: URL { built("stylize") }

    /// How a program ended.
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Whether a signal ended the process (a crash, or a trap).
        public var crashed = false

        /// How a program ended: its status, what it printed, and whether a signal ended it.
        public init(status: Int32, stdout: String, stderr: String, crashed: Bool = false) {
            (self.status, self.stdout, self.stderr, self.crashed) = (status, stdout, stderr, crashed)
        }
    }

    /// Runs a program to completion, collecting its output; `environment` is added to this
    /// process's.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs, so neither fills up and blocks it: stderr on a
        // Dispatch queue joined through a group (a hand-over ThreadSanitizer can see), stdout here.
        let reading = DispatchGroup()
        let stderr = Locked(Data())
        DispatchQueue.global().async(group: reading) {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderr.withLock { $0 = data }
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        reading.wait()
        let outcome = Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                              stderr: String(decoding: stderr.withLock { $0 }, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
        // In the sanitizer passes of CI the programs run here are built with the sanitizer too:
        // any report of theirs fails the test that ran them, whatever else it expects.
        for sanitizer in ["ThreadSanitizer", "AddressSanitizer", "LeakSanitizer"] where outcome.stderr.contains(sanitizer) {
            XCTFail("\(sanitizer) reported on \(executable.lastPathComponent) \(arguments.joined(separator: " ")):\n\(outcome.stderr)")
        }
        return outcome
    }

    /// Runs a tool from PATH (ffmpeg, ffprobe), throwing with its stderr when it fails.
    @discardableResult
    public static func tool(_ name: String, _ arguments: [String]) throws -> String {
        let outcome = try run(URL(fileURLWithPath: "/usr/bin/env"), [name] + arguments)
        guard outcome.status == 0 else { throw Failure(message: "\(name) \(arguments.joined(separator: " ")): \(outcome.stderr)") }
        return outcome.stdout
    }

    /// A tool that failed, with what it said.
    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// A fresh empty folder, removed at the end of `test`.
    public static func temporaryDirectory(_ test: XCTestCase, prefix: String = "stylize-tests") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
