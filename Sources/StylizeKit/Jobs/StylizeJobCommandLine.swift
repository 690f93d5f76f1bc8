import Foundation

extension StylizeJob {
    /// The `stylize` command that runs this job, one word per element (`shellCommand` quotes
    /// them). Settings at their defaults are left out. What exists only in memory is left out
    /// too: an identity vector or keyframes not read from a file (`identityFile`,
    /// `keyframesFile`), and the filmstrip.
    public var commandLine: [String] {
        var words = ["stylize"]
        switch source {
        case .clip(let input): words += ["video", input.path]
        case .frames(let input): words += ["frames", input.displayPath]
        case .picture(let input): words += ["image", input.displayPath]
        case .live(let input): words += ["live", input.location]
        }
        words += ["-o", output.path]
        words += styleWords + lookWords + regionWords
        if case .picture = source { return words }
        words += clipWords
        if case .frames = source { words += sequenceWords }
        if case .live(let input) = source { words += liveWords(input) }
        return words
    }

    /// How a live source is opened.
    private func liveWords(_ input: LiveInput) -> [String] {
        var words: [String] = []
        if let format = input.format { words += ["--input-format", format] }
        if let size = input.size { words += ["--input-size", size] }
        if let rate = input.frameRate { words += ["--input-fps", rate] }
        if input.timeout != LiveInput(input.location).timeout { words += ["--input-timeout", Self.number(input.timeout)] }
        for (key, value) in input.options.sorted(by: { $0.key < $1.key }) { words += ["--input-option", "\(key)=\(value)"] }
        return words
    }

    /// The settings that shape the pictures of a piece: the command line without where it
    /// reads and writes, which frames, and how the output is handled. `join` checks that the
    /// pieces of a clip agree on it.
    package var pieceSignature: String {
        var job = self
        job.options.frames = nil
        job.options.warmup = nil
        job.options.overwrite = false
        return (job.styleWords + job.lookWords + job.regionWords + job.clipWords).joined(separator: " ")
    }

    /// `commandLine` as a POSIX shell reads it back.
    public var shellCommand: String { commandLine.map(Self.shellQuoted).joined(separator: " ") }

    /// A number as the command line takes it back exactly: whole numbers without a point,
    /// others in the shortest form that reads back as the same value.
    public static func number(_ value: Double) -> String { commandLineNumber(value) }

    /// A word as a POSIX shell reads it back: bare when it is only safe characters, else in single quotes.
    public static func shellQuoted(_ word: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:,@%+=-")
        if !word.isEmpty, word.unicodeScalars.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private var styleWords: [String] {
        switch style {
        case .single(let spec, let strength):
            return ["-s", spec.description] + (strength != 1 ? ["--strength", Self.number(strength)] : [])
        case .keyframes(let keys, let easing):
            if let keyframesFile { return ["--keyframes", keyframesFile] }
            return keys.flatMap { ["--keyframe", Self.keyframeWord($0)] } + (easing != .linear ? ["--ease", easing.rawValue] : [])
        }
    }

    /// The mask and the outside (a supplied mask has no words and is left out).
    private var regionWords: [String] {
        guard let regions else { return [] }
        if case .supplied = regions.mask { return [] }
        var words = ["--mask", regions.mask.description]
        if regions.invert { words.append("--mask-invert") }
        if regions.feather != Regions.defaultFeather { words += ["--mask-feather", String(regions.feather)] }
        switch regions.outside {
        case .original: break
        case .style(let spec, let strength):
            words += ["--outside", spec.description] + (strength != 1 ? ["--outside-strength", Self.number(strength)] : [])
        case .keyframes(let keys, _):
            words += keys.flatMap { ["--outside-keyframe", Self.keyframeWord($0)] }
        }
        return words
    }

    /// A keyframe as `--keyframe` takes it: TIME=STYLE[@STRENGTH].
    private static func keyframeWord(_ key: KeyframeSpec) -> String {
        let time = switch key.time {
        case .seconds(let seconds): number(seconds)
        case .frame(let index): "#\(index)"
        }
        return "\(time)=\(key.style)" + (key.strength != 1 ? "@\(number(key.strength))" : "")
    }

    private var lookWords: [String] {
        var words: [String] = []
        if styleSize != StylePredictor.inputSize { words += ["--style-size", String(styleSize)] }
        if let size = options.processingSize { words += ["--size", String(size)] }
        if options.preserveColors { words.append("--preserve-colors") }
        if options.precision != .auto { words += ["--precision", options.precision.rawValue] }
        if options.overwrite { words.append("--overwrite") }
        return words
    }

    /// What clips and frame sequences share: the cut, the rate, the stabilizer, the encoding.
    private var clipWords: [String] {
        var words: [String] = []
        if let start = options.start { words += ["--start", Self.number(start)] }
        if let duration = options.duration { words += ["--duration", Self.number(duration)] }
        if case .frames = source {
            if sequence.frameRate != FrameSequenceOptions().frameRate { words += ["--fps", Self.number(sequence.frameRate)] }
        } else if let rate = options.frameRate {
            words += ["--fps", Self.number(rate)]
        }
        if let size = options.outputSize { words += ["--scale", "\(size.width ?? -1)x\(size.height ?? -1)"] }
        if options.stabilization != JobOptions().stabilization {
            words += options.stabilization == 0 ? ["--no-stabilize"] : ["--stabilize", Self.number(options.stabilization)]
        }
        if let workers = options.workers { words += ["--workers", String(workers)] }
        if let crf = options.crf { words += ["--crf", String(crf)] }
        if let preset = options.preset { words += ["--preset", preset] }
        if let codec = options.codec { words += ["--codec", codec] }
        if options.audio.drop { words.append("--no-audio") }
        if let codec = options.audio.codec { words += ["--audio-codec", codec] }
        if let rate = options.audio.bitRate { words += ["--audio-bitrate", String(rate)] }
        if let format = options.outputFormat { words += ["--format", format] }
        if let format = options.inputFormat { words += ["--input-format", format] }
        if let identityFile { words += ["--identity", identityFile] }
        if let frames = options.frames { words += ["--frames", "\(frames.lowerBound)..\(frames.upperBound)"] }
        if let warmup = options.warmup { words += ["--warmup", String(warmup)] }
        return words
    }

    private var sequenceWords: [String] {
        var words: [String] = []
        if let format = sequence.pictureFormat { words += ["--format", format.rawValue] }
        if sequence.watch { words.append("--watch") }
        if let idle = sequence.idleExit { words += ["--idle-exit", Self.number(idle)] }
        if sequence.resume { words.append("--resume") }
        return words
    }
}
