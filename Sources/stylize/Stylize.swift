import ArgumentParser
import Foundation
import StylizeKit

@main
struct Stylize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylize",
        abstract: "Repaint pictures in the style of any other picture (Ghiasi et al. 2017, Magenta's arbitrary stylization).",
        version: "stylize \(StylizeKitVersion.string)\n\(StylizeKitVersion.libraries)",
        subcommands: commands
    )

    /// The subcommands; the studio's only when built with the Studio trait (the default).
    static var commands: [any ParsableCommand.Type] {
        var commands: [any ParsableCommand.Type] = [ImageCommand.self, VideoCommand.self, FramesCommand.self, LiveCommand.self, SheetCommand.self,
                                                    StylesCommand.self, VectorCommand.self, ProbeCommand.self, JoinCommand.self]
        #if Studio
        commands.append(StudioCommand.self)
        #endif
        return commands + [BenchCommand.self]
    }

    /// ArgumentParser's own main, except that a usage error is one line on stderr (not the
    /// whole usage text) and help still goes to stdout.
    static func main() {
        FFmpegLogging.quiet()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = Self.message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            if !message.isEmpty {
                FileHandle.standardError.write(Data("stylize: \(message) (see \(helpCommand()))\n".utf8))
            }
            Foundation.exit(code.rawValue)
        }
    }
}

/// The help that answers a usage error: the subcommand's, when the command line names one.
func helpCommand(_ arguments: [String] = CommandLine.arguments) -> String {
    let names = Stylize.configuration.subcommands.compactMap { $0.configuration.commandName }
    guard let name = arguments.dropFirst().first(where: { !$0.hasPrefix("-") }), names.contains(name) else { return "stylize --help" }
    return "stylize \(name) --help"
}

/// Options every command that loads the models takes. Options whose value may be a negative
/// number are parsed unconditionally elsewhere (`--strength -1` is the option with the value -1,
/// which its own check refuses, not an option without a value).

struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("models"), help: ArgumentHelp("Directory holding the two ONNX models (default: $STYLIZE_MODELS, then ~/.cache/stylize/models).", valueName: "dir"))
    var directory: String?

    func load() throws -> Stylizer {
        try Stylizer(modelsDirectory: directory.map { URL(fileURLWithPath: $0) })
    }
}

extension Precision: ExpressibleByArgument {}

/// The help of every command's `--precision`.
let precisionHelp: ArgumentHelp = "Arithmetic: auto (the faster of f32 and bf16 on this CPU, timed once), f32, bf16, or int8 (the model's own 8-bit arithmetic: the fastest where the CPU has VNNI, a little coarser)."


/// How style pictures are read, for every command that takes a style.
struct StyleReadingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Side, in pixels, of the square a style picture is resized to before its vector is computed (\(StylePredictor.sideRange.lowerBound)-\(StylePredictor.sideRange.upperBound)). Smaller gives coarser, bigger brush features; vector files and gallery styles are not affected.", valueName: "n"))
    var styleSize = StylePredictor.inputSize

    func validate() throws {
        guard StylePredictor.sideRange.contains(styleSize) else {
            throw ValidationError("--style-size must be from \(StylePredictor.sideRange.lowerBound) to \(StylePredictor.sideRange.upperBound)")
        }
    }

    /// Parses a style, telling the user when a file here has the name of a gallery style.
    func parse(_ text: String) throws -> StyleSpec {
        let spec = try StyleSpec(parsing: text)
        noteShadowedGalleryStyles(spec)
        return spec
    }
}

/// Says on stderr which parts of `spec` name a file that also has a gallery style's name (the
/// file is used).
func noteShadowedGalleryStyles(_ spec: StyleSpec) {
    for part in spec.parts where part.shadowsGalleryStyle() {
        FileHandle.standardError.write(Data("stylize: note: using the file \(part.path), not the gallery style of that name\n".utf8))
    }
}

/// Runs `body`, turning a StylizeKit error into one line on stderr and a non-zero exit.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as StylizeError {
        FileHandle.standardError.write(Data("stylize: \(message(for: error))\n".utf8))
        throw ExitCode.failure
    }
}

/// StylizeKit's message, with what to do about it on this command line.
func message(for error: StylizeError) -> String {
    switch error {
    case .outputExists(let path):
        return "\(path) already exists: pass --overwrite to replace it"
    case .modelMissing:
        return "\(error.localizedDescription): run scripts/fetch-models, or name the folder with --models"
    case .modelDamaged:
        return "\(error.localizedDescription): run scripts/fetch-models to fetch it again"
    case .badStyle(let text) where text.contains("closest gallery styles"):
        return error.localizedDescription + " (stylize styles lists them all)"
    default:
        return commandLineWords(error.localizedDescription)
    }
}

/// StylizeKit names settings in words; this command line names them by their flags.
let flagsForWords: [(words: String, flags: String)] = [
    ("another video codec", "another --codec"), ("name a video codec", "name one with --codec"),
    ("another audio codec", "another --audio-codec"), ("leave the audio out", "--no-audio"),
    ("use the f32 precision", "use --precision f32"), ("int8 needs VNNI", "--precision int8 needs VNNI"),
    ("leave the quality unset", "leave out --crf"), ("choose the libx264 codec", "choose --codec libx264"),
    ("takes the presets", "takes --preset"), ("leave the preset unset", "leave out --preset"),
    ("name the output container", "name one with --format"), ("another folder or picture format", "another folder or --format"),
    ("which watching and resuming", "which --watch and resuming"), ("when watching, the output folder", "with --watch the output folder"),
    ("read it as a picture or a clip", "use stylize image or stylize video for it"),
    ("is not a piece of a split job", "is not a piece made by stylize video --frames"),
    ("the frame layout has no timestamps", "the frame layout has no timestamps: write it with stylize probe --timestamps"),
]

/// `message` with the settings it names in words given as this command line's flags.
func commandLineWords(_ message: String) -> String {
    flagsForWords.reduce(message) { $0.replacingOccurrences(of: $1.words, with: $1.flags) }
}

/// Writes one JSON object on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}

/// Fails validation when `output` is the same file as `input`.
func validateDistinct(input: String, output: String) throws {
    let a = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
    let b = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
    if a == b { throw ValidationError("the output \(output) is the input; choose another file") }
}
