import ArgumentParser
import Foundation
import StylizeKit

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Print what a split job needs to know of a clip, as JSON: its frames as --frames counts them and its keyframes.",
        discussion: "Frames are counted from the video packets in presentation order, without decoding; pieces cut at keyframes start without decoding frames they do not keep."
    )

    @Argument(help: "The clip.")
    var input: String

    @Flag(help: "Include every frame's timestamp and the file's size and time: a layout for 'stylize video --frames A..B --layout FILE', which then finds its frames without scanning the file.")
    var timestamps = false

    func run() throws {
        try reportingErrors {
            guard FileManager.default.fileExists(atPath: input) else { throw StylizeError.fileNotFound(input) }
            try printJSON(try ClipLayout(of: input, withTimestamps: timestamps))
        }
    }
}
