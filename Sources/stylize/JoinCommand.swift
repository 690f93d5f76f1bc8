import ArgumentParser
import Foundation
import StylizeKit

struct JoinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Put the pieces of a split job ('stylize video --frames A..B') together, without re-encoding.",
        discussion: """
        The pieces' video, in frame order, goes with the audio, subtitles, metadata and rotation of the source clip, \
        as a single 'stylize video' would write them. The pieces must cover every frame of the source once and be \
        made with the same settings.
        """
    )

    @Argument(help: "The pieces, in any order.")
    var pieces: [String]

    @Option(name: .shortAndLong, help: "Where to write the clip.")
    var output: String

    @Option(help: ArgumentHelp("The clip the pieces were made from: its audio, subtitles, metadata and rotation go into the output.", valueName: "clip"))
    var audioFrom: String

    @Option(help: "Output container by FFmpeg name (mp4, matroska, ...); default: from the extension.")
    var format: String?

    @OptionGroup var outputHandling: OutputHandling
    var overwrite: Bool { outputHandling.overwrite }
    var json: Bool { outputHandling.json }

    func validate() throws {
        guard !pieces.isEmpty else { throw ValidationError("give the pieces to join") }
        guard output != "-" else { throw ValidationError("join writes a file, not standard output") }
        for piece in pieces + [audioFrom] { try validateDistinct(input: piece, output: output) }
    }

    func run() throws {
        try reportingErrors {
            for path in pieces + [audioFrom] where !FileManager.default.fileExists(atPath: path) { throw StylizeError.fileNotFound(path) }
            if !overwrite && FileManager.default.fileExists(atPath: output) { throw StylizeError.outputExists(output) }
            let summary = try PieceJoiner.join(pieces: pieces, source: audioFrom, output: output, outputFormat: format, overwrite: overwrite)
            if json { try printJSON(summary) }
        }
    }
}
