import ArgumentParser
import StylizeKit

/// Where the style goes and what fills the rest, for `video`, `image`, `frames`, `live` and `sheet`.
struct RegionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Where the style goes. A picture, a clip (matched by time) or a frame folder (matched by index): white takes the style, black the outside, grey a blend; a picture's alpha counts where it is used (transparent somewhere). Or key:COLOR[:SIMILARITY:BLEND]: a colour (a green screen) keyed out of each frame with FFmpeg's chromakey, the outside showing there (COLOR as FFmpeg names it: green is #008000; defaults 0.04 and 0.03). Or luma:LOW-HIGH: pixels whose brightness (0 black, 1 white) is in the range.",
        valueName: "mask"))
    var mask: String?

    @Flag(help: "Black, not white, marks where the style goes.")
    var maskInvert = false

    @Option(help: "Width in pixels of the soft band along the mask's edges (0: a hard edge).")
    var maskFeather = Regions.defaultFeather

    @Option(help: ArgumentHelp("What fills the part the mask leaves out: original (the default) or a style.", valueName: "style|original"))
    var outside: String?

    @Option(parsing: .unconditional, help: "The outside style's strength from 0 to 1 (default 1).")
    var outsideStrength: Double?

    @Option(name: .customLong("outside-keyframe"), help: ArgumentHelp(
        "The outside's style at a moment, as --keyframe takes it; repeat it to move the outside between styles.", valueName: "time=style[@strength]"))
    var outsideKeyframes: [String] = []

    func validate() throws {
        let styledOutside = outside.map { $0 != "original" } ?? false
        if mask == nil && (maskInvert || maskFeather != Regions.defaultFeather || outside != nil || outsideStrength != nil || !outsideKeyframes.isEmpty) {
            throw ValidationError("--mask-invert, --mask-feather and the --outside options go with --mask")
        }
        if outside != nil && !outsideKeyframes.isEmpty { throw ValidationError("give either --outside or --outside-keyframe, not both") }
        if outsideStrength != nil && !styledOutside { throw ValidationError("--outside-strength goes with --outside STYLE") }
        if let outsideStrength, let problem = StyleVector.strengthProblem(outsideStrength, name: "--outside-strength") { throw ValidationError(problem) }
        if let mask { _ = try MaskSource(parsing: mask) }
        for keyframe in outsideKeyframes { _ = try KeyframeSpec(parsing: keyframe) }
    }

    /// The regions a job takes, nil without a mask.
    func regions(reading styles: StyleReadingOptions) throws -> Regions? {
        guard let mask else { return nil }
        var regions = Regions(mask: try MaskSource(parsing: mask), invert: maskInvert, feather: maskFeather)
        if !outsideKeyframes.isEmpty {
            regions.outside = .keyframes(try outsideKeyframes.map(KeyframeSpec.init(parsing:)))
        } else if let outside, outside != "original" {
            regions.outside = .style(try styles.parse(outside), strength: outsideStrength ?? 1)
        }
        return regions
    }
}
