import ArgumentParser
import Foundation
import StylizeKit

struct SheetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sheet",
        abstract: "A labelled grid of one picture: a row per style, a column per strength."
    )

    @Argument(help: "The picture to repaint.")
    var content: String

    @Option(name: .shortAndLong, help: "A style (gallery name, picture, .json vector file or mix); repeat for more rows.")
    var style: [String] = []

    @Option(help: "Strengths, one column each, comma-separated.")
    var strengths = "0.25,0.5,0.75,1"

    @Option(name: .shortAndLong, help: "Where to write the sheet (.png, .jpg, ...).")
    var output: String

    @Option(parsing: .unconditional, help: "Run the network with the picture's shorter side at this many pixels (the brush scale).")
    var size: Int?

    @Option(help: "Width of each cell, in pixels.")
    var cellWidth = 320

    @Flag(help: "Keep the picture's own colours; take only the luminance from each style.")
    var preserveColors = false

    @OptionGroup var styleReading: StyleReadingOptions

    @Option(help: precisionHelp)
    var precision: Precision = .auto

    @OptionGroup var regions: RegionOptions

    @OptionGroup var overwriting: OverwriteOption
    var overwrite: Bool { overwriting.overwrite }

    @OptionGroup var models: ModelOptions

    func parsedStrengths() throws -> [Double] {
        try strengths.split(separator: ",").map {
            guard let value = Double($0.trimmingCharacters(in: .whitespaces)), StyleVector.strengths.contains(value) else {
                throw ValidationError("bad strength \($0): use numbers from 0 to 1, e.g. 0.25,0.5,1")
            }
            return value
        }
    }

    func validate() throws {
        guard !style.isEmpty else { throw ValidationError("give at least one style with -s") }
        guard !(try parsedStrengths()).isEmpty else { throw ValidationError("give at least one strength") }
        if let size, size < StyleTransformer.minimumSide { throw ValidationError("--size must be at least \(StyleTransformer.minimumSide)") }
        guard cellWidth >= 32 else { throw ValidationError("--cell-width must be at least 32") }
        try validateDistinct(input: content, output: output)
    }

    func run() throws {
        try reportingErrors {
            let outputURL = URL(fileURLWithPath: output)
            _ = try Picture.OutputFormat(for: outputURL)
            if !overwrite && FileManager.default.fileExists(atPath: output) { throw StylizeError.outputExists(output) }
            let picture = try Picture(contentsOf: URL(fileURLWithPath: content))
            let stylizer = try models.load()
            let styles = try style.map { text -> (String, StyleVector) in
                let spec = try styleReading.parse(text)
                let label = spec.parts.map { URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent }.joined(separator: "+")
                return (label, try stylizer.styleVector(for: spec, styleSize: styleReading.styleSize))
            }
            var options = ContactSheetOptions()
            options.strengths = try parsedStrengths()
            options.processingSize = size
            options.precision = precision
            options.cellWidth = cellWidth
            options.preserveColors = preserveColors
            options.regions = try regions.regions(reading: styleReading)
            try stylizer.contactSheet(of: picture, styles: styles.map { (label: $0.0, vector: $0.1) }, options: options)
                .write(to: outputURL, overwrite: overwrite)
        }
    }
}
