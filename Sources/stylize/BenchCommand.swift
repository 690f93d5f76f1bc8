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

    @Option(help: "Precisions to time, comma-separated (f32, bf16, int8; int8 is left out by default where the CPU has no VNNI).")
    var precisions = Precision.cpuHasVNNI ? "f32,bf16,int8" : "f32,bf16"

    @Option(help: "Timed runs per case, after one warm-up run.")
    var runs = 5

    @Flag(help: "Also time every step of the transformer (gathers, convs, norms, colour out) at the first size, per precision: ms, GFLOP/s and share of the frame (median over the runs).")
    var layers = false

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
        try precisions.split(separator: ",").map {
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
            for (w, h) in try parsedSizes() {
                let content = picture(w, h)
                for precision in try parsedPrecisions() {
                    let worker = try stylizer.makeWorker(precision: precision)
                    record("transformer", w, h, precision.rawValue, try time { _ = try worker.stylize(content, conditioning) })
                }
            }
            var layerResults: [LayerResult] = []
            if layers, let (w, h) = try parsedSizes().first {
                let content = picture(w, h)
                for precision in try parsedPrecisions() {
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

