import Foundation

/// What a live job measured: frames in, out and dropped, and the latency from a frame's
/// arrival (decoded in this process) to its stylized frame being handed to the output.
public struct LiveStatistics: Sendable, Codable, Equatable {
    /// Frames that arrived from the source.
    public var framesIn = 0
    /// Frames written.
    public var framesOut = 0
    /// Frames that arrived while the worker was busy and were replaced by newer ones.
    public var dropped = 0
    /// Latency percentiles in milliseconds: p50, p90, p99 and the highest.
    public var latencyMilliseconds = Latency()
    /// Why the source ended, when it was not stopped or at its end (it stopped sending, ...).
    public var endReason: String?

    /// Latency percentiles, in milliseconds.
    public struct Latency: Sendable, Codable, Equatable {
        /// Half the frames took at most this long.
        public var p50 = 0.0
        /// Nine in ten frames took at most this long.
        public var p90 = 0.0
        /// 99 in 100 frames took at most this long.
        public var p99 = 0.0
        /// The longest.
        public var max = 0.0
    }
}

/// Latencies counted in 0.5 ms bins up to 10 s (and the longest exactly), so that memory
/// stays flat however long a live job runs.
struct LatencyHistogram {
    private static let binMilliseconds = 0.5
    private var bins = [Int32](repeating: 0, count: 20_000)
    private var count = 0
    private var longest = 0.0

    mutating func add(milliseconds: Double) {
        let bin = Swift.min(bins.count - 1, Swift.max(0, Int(milliseconds / Self.binMilliseconds)))
        bins[bin] += 1
        count += 1
        longest = Swift.max(longest, milliseconds)
    }

    /// The percentiles, each the upper edge of its bin (at most the longest).
    var latency: LiveStatistics.Latency {
        guard count > 0 else { return .init() }
        func percentile(_ fraction: Double) -> Double {
            let wanted = Int((fraction * Double(count)).rounded(.up))
            var seen = 0
            for (index, number) in bins.enumerated() {
                seen += Int(number)
                if seen >= wanted { return Swift.min(longest, Double(index + 1) * Self.binMilliseconds) }
            }
            return longest
        }
        return .init(p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: longest)
    }
}
