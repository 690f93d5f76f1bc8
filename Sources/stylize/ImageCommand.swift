import ArgumentParser
import Foundation
import StylizeKit

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Stylize one picture.",
        discussion: "STYLE is a picture, a vector file from 'stylize vector' (.json), or a weighted mix such as starry.jpg:0.7,scream.json:0.3."
    )

    @Argument(help: "The picture to repaint (PNG, JPEG, WebP, BMP, PGM/PPM, TIFF, ...).")
    var input: String

    @Option(name: .shortAndLong, help: "The style: a gallery name (stylize styles lists them), a picture, a .json vector file, or a mix a.jpg:0.7,b.json:0.3.")
    var style: String

    @Option(name: .shortAndLong, help: "Where to write the result: .png, .jpg, .bmp, .ppm, .pgm (grey), .tiff or .webp.")
    var output: String

    @OptionGroup var look: LookOptions
    var strength: Double { look.strength ?? 1 }
    var size: Int? { look.size }
    var preserveColors: Bool { look.preserveColors }
    var styleReading: StyleReadingOptions { look.styleReading }

    @Option(help: precisionHelp)
    var precision: Precision = .auto

    @OptionGroup var regions: RegionOptions

    @OptionGroup var outputHandling: OutputHandling
    var overwrite: Bool { outputHandling.overwrite }
    var json: Bool { outputHandling.json }

    @OptionGroup var models: ModelOptions

    func validate() throws {
        try validateDistinct(input: input, output: output)
    }

    struct Summary: Encodable {
        var input: String, output: String, style: String, width: Int, height: Int
        var precision: String, strength: Double, size: Int?, styleSize: Int, preserveColors: Bool, seconds: Double
        /// Why `auto` became `precision` on this CPU; nil when a precision was asked for.
        var precisionReason: String?
    }

    func run() throws {
        try reportingErrors {
            let started = Date()
            let outputURL = URL(fileURLWithPath: output)
            _ = try Picture.OutputFormat(for: outputURL)
            var job = StylizeJob(source: .picture(URL(fileURLWithPath: input)), output: .file(outputURL),
                                 style: .single(try styleReading.parse(style), strength: strength))
            job.styleSize = styleReading.styleSize
            job.options.processingSize = size
            job.options.preserveColors = preserveColors
            job.options.precision = precision
            job.options.overwrite = overwrite
            job.regions = try regions.regions(reading: styleReading)
            // Refuse before the expensive part, not after it.
            let content = try Picture(contentsOf: URL(fileURLWithPath: input))
            if !overwrite && FileManager.default.fileExists(atPath: outputURL.path) { throw StylizeError.outputExists(output) }
            let stylizer = try models.load()
            let summary = try job.run(content, with: stylizer)
            if json {
                try printJSON(Summary(input: input, output: output, style: job.styleDescription, width: summary.width, height: summary.height,
                                      precision: stylizer.transformer.resolve(precision).rawValue, strength: strength, size: size,
                                      styleSize: styleReading.styleSize, preserveColors: preserveColors, seconds: Date().timeIntervalSince(started),
                                      precisionReason: precision == .auto ? stylizer.transformer.precisionChoice().reason : nil))
            }
        }
    }
}
