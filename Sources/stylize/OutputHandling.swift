import ArgumentParser
import StylizeKit

/// Whether an existing output may be replaced.
struct OverwriteOption: ParsableArguments {
    @Flag(help: "Replace the output if it exists.")
    var overwrite = false
}

/// What becomes of an existing output, and whether a JSON summary is printed.
struct OutputHandling: ParsableArguments {
    @Flag(help: "Replace the output if it exists.")
    var overwrite = false

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false
}

/// The look of a stylized picture or clip: how strong the style is, the brush scale, the
/// colours, and the size style pictures are read at.
struct LookOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Style strength from 0 (the content's own style) to 1 (full style, the default). For a clip or a sequence the content's own style vector is computed once, from 5 frames spread over it (the first frame for a pipe or --watch), never per frame.")
    var strength: Double?

    @Option(parsing: .unconditional, help: "Run the network with the shorter side at this many pixels (the brush scale); the output keeps its own size.")
    var size: Int?

    @Flag(help: "Keep the content's own colours; take only the luminance from the style.")
    var preserveColors = false

    @OptionGroup var styleReading: StyleReadingOptions

    func validate() throws {
        if let strength, let problem = StyleVector.strengthProblem(strength, name: "--strength") { throw ValidationError(problem) }
        if let size, size < StyleTransformer.minimumSide { throw ValidationError("--size must be at least \(StyleTransformer.minimumSide)") }
    }
}
