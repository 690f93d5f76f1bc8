import ArgumentParser
import Foundation
import StylizeKit

struct StylesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "styles",
        abstract: "List the gallery styles (-s NAME works anywhere a style is taken), or draw a picture in all of them.",
        discussion: "Each gallery style is the vector of a public-domain painting; gallery/README.md says where each picture came from."
    )

    @Option(help: ArgumentHelp("Draw this picture in every gallery style, labelled, into the file -o names.", valueName: "picture"))
    var sheet: String?

    @Option(name: .shortAndLong, help: "Where to write the sheet (.png, .jpg, ...).")
    var output: String?

    @Option(help: "Cells per row of the sheet.")
    var columns = 4

    @Option(help: "Width of each cell, in pixels.")
    var cellWidth = 256

    @Option(parsing: .unconditional, help: "Run the network with the picture's shorter side at this many pixels (the brush scale).")
    var size: Int?

    @Flag(help: "Keep the picture's own colours; take only the luminance from each style.")
    var preserveColors = false

    @Option(help: precisionHelp)
    var precision: Precision = .auto

    @OptionGroup var overwriting: OverwriteOption
    var overwrite: Bool { overwriting.overwrite }

    @Flag(help: "Print the gallery as JSON on stdout.")
    var json = false

    @OptionGroup var models: ModelOptions

    func validate() throws {
        if sheet != nil && output == nil { throw ValidationError("--sheet needs -o FILE for the sheet") }
        if sheet == nil && output != nil { throw ValidationError("-o goes with --sheet PICTURE") }
        guard columns >= 1 else { throw ValidationError("--columns must be at least 1") }
        guard cellWidth >= 32 else { throw ValidationError("--cell-width must be at least 32") }
        if let size, size < StyleTransformer.minimumSide { throw ValidationError("--size must be at least \(StyleTransformer.minimumSide)") }
        if let sheet, let output { try validateDistinct(input: sheet, output: output) }
    }

    struct Listing: Encodable {
        var name: String, title: String, artist: String, year: String
    }

    func run() throws {
        try reportingErrors {
            let gallery = StyleGallery.builtIn
            guard let sheet, let output else {
                if json { return try printJSON(gallery.entries.map { Listing(name: $0.name, title: $0.title, artist: $0.artist, year: $0.year) }) }
                let width = gallery.names.map(\.count).max() ?? 0
                for entry in gallery.entries {
                    print(entry.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + "\(entry.title), \(entry.artist), \(entry.year)")
                }
                return
            }
            let outputURL = URL(fileURLWithPath: output)
            _ = try Picture.OutputFormat(for: outputURL)
            if !overwrite && FileManager.default.fileExists(atPath: output) { throw StylizeError.outputExists(output) }
            let picture = try Picture(contentsOf: URL(fileURLWithPath: sheet))
            var options = StyleGridOptions()
            options.columns = columns
            options.cellWidth = cellWidth
            options.processingSize = size
            options.precision = precision
            options.preserveColors = preserveColors
            let styles = gallery.entries.map { (label: $0.name, vector: gallery.vector(named: $0.name)!) }
            try models.load().styleGrid(of: picture, styles: styles, options: options).write(to: outputURL, overwrite: overwrite)
        }
    }
}
