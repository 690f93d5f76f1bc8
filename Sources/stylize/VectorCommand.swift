import ArgumentParser
import Foundation
import StylizeKit

struct VectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vector",
        abstract: "Compute a style vector once and save it, for -s FILE.json later.",
        discussion: "Writes {\"vector\": [100 numbers], \"source\": ..., \"model\": ...}. STYLE may also be a mix (a.jpg:0.7,b.json:0.3)."
    )

    @Argument(help: "The style: a picture, a .json vector file, a gallery name, or a mix a.jpg:0.7,b.json:0.3.")
    var style: String

    @Option(name: .shortAndLong, help: "Where to write the vector (.json).")
    var output: String

    @OptionGroup var styleReading: StyleReadingOptions

    @Flag(help: "STYLE is a clip: write its own style vector, the mean of 5 frames spread over it, which --strength below 1 blends towards (for --identity of split jobs).")
    var clip = false

    @OptionGroup var overwriting: OverwriteOption
    var overwrite: Bool { overwriting.overwrite }

    @OptionGroup var models: ModelOptions

    func validate() throws {
        guard output.lowercased().hasSuffix(".json") else { throw ValidationError("the output must be a .json file") }
        if clip { return try validateDistinct(input: style, output: output) }
        for part in (try? StyleSpec(parsing: style).parts) ?? [] { try validateDistinct(input: part.path, output: output) }
    }

    func run() throws {
        try reportingErrors {
            let outputURL = URL(fileURLWithPath: output)
            if clip {
                if !overwrite && FileManager.default.fileExists(atPath: outputURL.path) { throw StylizeError.outputExists(output) }
                guard FileManager.default.fileExists(atPath: style) else { throw StylizeError.fileNotFound(style) }
                let vector = try VideoStylizer(stylizer: models.load(), options: JobOptions()).identityVector(of: URL(fileURLWithPath: style))
                return try StyleVectorFile(vector: vector, source: "the clip \(style), its own style").write(to: outputURL, overwrite: overwrite)
            }
            let spec = try styleReading.parse(style)
            if !overwrite && FileManager.default.fileExists(atPath: outputURL.path) { throw StylizeError.outputExists(output) }
            let vector = try models.load().styleVector(for: spec, styleSize: styleReading.styleSize)
            try StyleVectorFile(vector: vector, source: spec.description).write(to: outputURL, overwrite: overwrite)
        }
    }
}
