import CDNNL
import Foundation
import StylizeKernels

/// Decides what `Precision.auto` means on this CPU by measuring: the whole transformer, f32 and
/// bf16, on one thread at a small frame size, in alternating runs. Native bf16 is not always the
/// faster: Intel cores without AMX issue bf16 dot products on one port but f32 FMAs on two, so
/// there f32 wins, while on Zen 4 and with AMX bf16 does (docs/speed.md has the figures).
///
/// The answer is kept in `precision-choices.json` in the models' cache folder, keyed by CPU
/// model, oneDNN's instruction set and version, and the running build, so that it is measured
/// once per machine and build.
enum PrecisionProbe {
    /// The probe frame: small enough to take well under a second for both precisions, large
    /// enough that every layer runs the kernels it runs at 720p.
    static let width = 320, height = 192
    /// Timed runs of each precision, alternating, after a warm-up run of each.
    static let runs = 5
    /// bf16 is taken only when it is faster than this share of f32's time: within 5%, f32's
    /// exact arithmetic wins.
    static let bf16Margin = 0.95

    /// The measured choice (or the rule, where the CPU has no native bf16), from the cache
    /// when there is one for this key.
    static func choose(_ transformer: StyleTransformer, cache: URL? = ModelStore.cacheDirectory.appendingPathComponent("precision-choices.json")) -> PrecisionChoice {
        guard Precision.cpuHasNativeBF16 else {
            return PrecisionChoice(precision: .f32, reason: "this CPU has no native bf16 (AVX512-BF16 or AMX)")
        }
        let key = cacheKey()
        if let cache, let known = (try? load(cache))?[key] { return known }
        guard let timings = try? measure(transformer) else {
            return PrecisionChoice(precision: .f32, reason: "bf16 could not be timed on this CPU")
        }
        let choice = decide(f32: timings.f32, bf16: timings.bf16)
        if let cache { try? store(choice, key: key, in: cache) }
        return choice
    }

    /// The faster precision by the fastest of each one's runs (the least disturbed by other work
    /// on the machine).
    static func decide(f32: [Double], bf16: [Double]) -> PrecisionChoice {
        let (a, b) = (f32.min() ?? .infinity, bf16.min() ?? .infinity)
        let ratio = b / a
        let measured = String(format: "measured at %dx%d on one thread: bf16 %.1f ms, f32 %.1f ms (bf16/f32 %.2f)", width, height, b, a, ratio)
        let precision: Precision = ratio < bf16Margin ? .bf16 : .f32
        return PrecisionChoice(precision: precision, reason: measured, milliseconds: ["f32": a, "bf16": b])
    }

    /// Milliseconds of each timed run of each precision.
    static func measure(_ transformer: StyleTransformer) throws -> (f32: [Double], bf16: [Double]) {
        let image = RGBImage.benchmarkPattern(width: width, height: height)
        let conditioning = transformer.conditioning(for: StyleVector(unchecked: [Float](repeating: 0, count: StyleVector.dimension)))
        defer { stylize_set_threads(0) }
        let workers = try [Precision.f32, .bf16].map { try TransformerWorker(transformer, precision: $0, threads: 1) }
        for worker in workers { _ = try worker.stylize(image, conditioning) }  // plans made, caches warm
        var times: [[Double]] = [[], []]
        for _ in 0..<runs {
            for (i, worker) in workers.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try worker.stylize(image, conditioning)
                times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        return (times[0], times[1])
    }

    /// CPU model, the instruction set oneDNN runs (ONEDNN_MAX_CPU_ISA lowers it), oneDNN's
    /// version, and the size and date of the running executable (a new build measures anew).
    static func cacheKey() -> String {
        let version = dnnl_version().pointee
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let attributes = try? FileManager.default.attributesOfItem(atPath: executable)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(PrecisionChoice.cpuModel) | isa \(dnnl_get_effective_cpu_isa().rawValue) | oneDNN \(version.major).\(version.minor).\(version.patch)"
            + " | \(executable) \(size) \(Int64(date))"
    }

    static func load(_ cache: URL) throws -> [String: PrecisionChoice] {
        try JSONDecoder().decode([String: PrecisionChoice].self, from: Data(contentsOf: cache))
    }

    /// Adds `choice` to the cache file (written whole, atomically); a cache that cannot be
    /// written only means measuring again next time.
    static func store(_ choice: PrecisionChoice, key: String, in cache: URL) throws {
        var known = (try? load(cache)) ?? [:]
        known[key] = choice
        try FileManager.default.createDirectory(at: cache.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(known).write(to: cache, options: .atomic)
    }
}
