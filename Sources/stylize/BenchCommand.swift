import ArgumentParser
import Foundation
import StylizeKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the networks: style vector, and transformer per frame size and precision (median after warm-up).",
        discussion: "A benchmark, not a test: the numbers depend on the machine and its load. scripts/bench runs this next to onnxruntime."
    )

    @Option(help: "Frame sizes WIDTHxHEIGHT, comma-separated.")
    var sizes = "384x384,1280x720"

    @Option(help: "Precisions to time, comma-separated (f32, bf16, int8). By default f32, and bf16 and int8 where this CPU runs them (int8 needs VNNI; oneDNN runs bf16 with AVX-512).")
    var precisions: String?

    @Option(help: "Timed runs per case, after one warm-up run.")
    var runs = 5

    @Flag(help: "Also time every step of the transformer (gathers, convs, norms, colour out) at the first size, per precision: ms, GFLOP/s and share of the frame (median over the runs).")
    var layers = false

    @Flag(help: "Also time FrameSession (frames in memory, into a caller's buffer) at each size and precision: RGBA and 4:2:0, stabilizer off and on, on two frames 4 pixels apart in turn. Compare with the transformer alone at the same size.")
    var session = false

    @Flag(help: "Print the results as JSON on stdout.")
    var json = false

    @OptionGroup var models: ModelOptions

    struct Result: Encodable {
        var network: String, width: Int, height: Int, precision: String
        var medianMilliseconds: Double, minMilliseconds: Double, runs: Int
    }

    struct LayerResult: Encodable {
        var width: Int, height: Int, precision: String
        var step: String, flops: Double, medianMilliseconds: Double
    }

    struct Report: Encodable {
        /// The CPU, as /proc/cpuinfo names it.
        var cpu: String
        /// What `--precision auto` runs on this CPU, and why.
        var auto: PrecisionChoice
        var results: [Result]
        var layers: [LayerResult]
    }

    func parsedSizes() throws -> [(Int, Int)] {
        try sizes.split(separator: ",").map { item in
            let parts = item.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ $0 >= StyleTransformer.minimumSide }) else {
                throw ValidationError("bad size \(item): use WIDTHxHEIGHT, e.g. 1280x720")
            }
            return (parts[0], parts[1])
        }
    }

    func parsedPrecisions() throws -> [Precision] {
        try (precisions ?? "f32").split(separator: ",").map {
            guard let p = Precision(rawValue: String($0)), p != .auto else { throw ValidationError("bad precision \($0): use f32, bf16 or int8") }
            return p
        }
    }

    func validate() throws {
        _ = try parsedSizes()
        _ = try parsedPrecisions()
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
    }

    /// Milliseconds of each of `runs` timed calls after one warm-up call.
    func time(_ body: () throws -> Void) rethrows -> [Double] {
        try body()
        return try (0..<runs).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
    }

    func run() throws {
        try reportingErrors {
            let stylizer = try models.load()
            let auto = stylizer.transformer.precisionChoice()
            if !json { print("\(PrecisionChoice.cpuModel): auto runs \(auto.precision.rawValue) (\(auto.reason))") }
            var results: [Result] = []
            func record(_ network: String, _ w: Int, _ h: Int, _ precision: String, _ times: [Double]) {
                let sorted = times.sorted()
                let result = Result(network: network, width: w, height: h, precision: precision,
                                    medianMilliseconds: sorted[sorted.count / 2], minMilliseconds: sorted[0], runs: times.count)
                results.append(result)
                if !json {
                    print(String(format: "%-12@ %5dx%-5d %-5@ median %8.1f ms  min %8.1f ms  (%d runs)",
                                 network as NSString, w, h, precision as NSString, result.medianMilliseconds, result.minMilliseconds, result.runs))
                }
            }
            func picture(_ w: Int, _ h: Int) -> RGBImage { RGBImage.benchmarkPattern(width: w, height: h) }
            let style = picture(StylePredictor.inputSize, StylePredictor.inputSize)
            var vector = try stylizer.predictor.vector(for: style)
            record("style-vector", StylePredictor.inputSize, StylePredictor.inputSize, "f32",
                   try time { vector = try stylizer.predictor.vector(for: style) })
            let conditioning = stylizer.transformer.conditioning(for: vector)
            let chosen = try timedPrecisions(stylizer, conditioning)
            for (w, h) in try parsedSizes() {
                let content = picture(w, h)
                for precision in chosen {
                    let worker = try stylizer.makeWorker(precision: precision)
                    record("transformer", w, h, precision.rawValue, try time { _ = try worker.stylize(content, conditioning) })
                }
            }
            if session {
                for (w, h) in try parsedSizes() {
                    for precision in chosen {
                        try timeSessions(stylizer, vector, width: w, height: h, precision: precision, record: record)
                    }
                }
            }
            var layerResults: [LayerResult] = []
            if layers, let (w, h) = try parsedSizes().first {
                let content = picture(w, h)
                for precision in chosen {
                    let worker = try stylizer.makeWorker(precision: precision)
                    _ = try worker.profile(content, conditioning)  // warm-up
                    let runs = try (0..<self.runs).map { _ in try worker.profile(content, conditioning) }
                    let rows = runs[0].indices.map { i in
                        let times = runs.map { $0[i].milliseconds }.sorted()
                        return LayerResult(width: w, height: h, precision: precision.rawValue, step: runs[0][i].step,
                                           flops: runs[0][i].flops, medianMilliseconds: times[times.count / 2])
                    }
                    layerResults += rows
                    if !json { printLayers(rows) }
                }
            }
            if json { try printJSON(Report(cpu: PrecisionChoice.cpuModel, auto: auto, results: results, layers: layerResults)) }
        }
    }

    /// The precisions to time: those `--precisions` names, or f32 and those of bf16 and int8 this
    /// CPU runs (a precision it cannot run is named on stderr and left out).
    func timedPrecisions(_ stylizer: Stylizer, _ conditioning: StyleConditioning) throws -> [Precision] {
        guard precisions == nil else { return try parsedPrecisions() }
        return [Precision.f32, .bf16, .int8].filter { precision in
            do {
                let side = StyleTransformer.minimumSide
                _ = try stylizer.makeWorker(precision: precision).stylize(RGBImage.benchmarkPattern(width: side, height: side), conditioning)
                return true
            } catch {
                FileHandle.standardError.write(Data("stylize bench: \(precision.rawValue) left out: \(commandLineWords(error.localizedDescription))\n".utf8))
                return false
            }
        }
    }

    /// FrameSession's time per frame, for RGBA and 4:2:0 frames, stabilized or not.
    func timeSessions(_ stylizer: Stylizer, _ style: StyleVector, width: Int, height: Int, precision: Precision,
                      record: (String, Int, Int, String, [Double]) -> Void) throws {
        let pattern = RGBImage.benchmarkPattern(width: width + 4, height: height)
        for format in [FramePixelFormat.rgba, .yuv420p] {
            var frames = try [0, 4].map { try Self.frame(format, of: pattern, width: width, height: height, left: $0) }
            var output = try PixelFrame(format: format, width: width, height: height)
            for stabilization in [0.0, 0.7] {
                var options = FrameSessionOptions()
                options.precision = precision
                options.stabilization = stabilization
                let session = try FrameSession(stylizer: stylizer, style: style, width: width, height: height, options: options)
                var next = 0
                let times = try time {
                    try frames[next].withBuffer { input in try output.withBuffer { try session.stylize(input, into: $0) } }
                    next = 1 - next
                }
                record("session-\(format)\(stabilization > 0 ? "+stab" : "")", width, height, precision.rawValue, times)
            }
        }
    }

    /// `width` x `height` pixels of `pattern` from column `left`, as an RGBA or a 4:2:0 frame
    /// (BT.601, limited range).
    static func frame(_ format: FramePixelFormat, of pattern: RGBImage, width: Int, height: Int, left: Int) throws -> PixelFrame {
        func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) {
            let i = (y * pattern.width + x + left) * 3
            return (pattern.pixels[i], pattern.pixels[i + 1], pattern.pixels[i + 2])
        }
        func byte(_ v: Float) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        var bytes: [UInt8] = []
        if format == .rgba {
            for y in 0..<height {
                for x in 0..<width {
                    let (r, g, b) = rgb(x, y)
                    bytes += [byte(255 * r), byte(255 * g), byte(255 * b), 255]
                }
            }
        } else {
            func luma(_ c: (Float, Float, Float)) -> Float { 0.299 * c.0 + 0.587 * c.1 + 0.114 * c.2 }
            for y in 0..<height { for x in 0..<width { bytes.append(byte(16 + 219 * luma(rgb(x, y)))) } }
            let (cw, ch) = ((width + 1) / 2, (height + 1) / 2)
            var cb: [UInt8] = [], cr: [UInt8] = []
            for y in 0..<ch {
                for x in 0..<cw {
                    let c = rgb(min(2 * x, width - 1), min(2 * y, height - 1)), l = luma(c)
                    cb.append(byte(128 + 224 * (c.2 - l) / 1.772))
                    cr.append(byte(128 + 224 * (c.0 - l) / 1.402))
                }
            }
            bytes += cb + cr
        }
        return try PixelFrame(format: format, width: width, height: height, bytes: bytes)
    }

    func printLayers(_ rows: [LayerResult]) {
        guard let first = rows.first else { return }
        let total = rows.reduce(0) { $0 + $1.medianMilliseconds }
        print("\ntransformer \(first.width)x\(first.height) \(first.precision), step by step (each waited for; sum \(String(format: "%.1f", total)) ms)")
        for row in rows {
            let rate = row.flops > 0 ? String(format: "%7.0f", row.flops / row.medianMilliseconds / 1e6) : "      -"
            print(String(format: "  %-58@ %8.2f ms %@ GFLOP/s %5.1f%%", row.step as NSString, row.medianMilliseconds, rate as NSString,
                         100 * row.medianMilliseconds / total))
        }
    }

}

