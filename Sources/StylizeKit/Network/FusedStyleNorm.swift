import StylizeKernels

/// A StyleNorm whose statistics are measured by StylizeKernels and whose scale and shift are
/// applied by the gather that reads the layer for the next conv (or in place, for the last
/// layer), instead of a separate oneDNN batch-norm pass over the frame: at full resolution
/// and 3 or 8 channels oneDNN has only slow generic kernels for that.
final class FusedStyleNorm {
    let channels: Int
    let epsilon: Float
    /// How many logical pixels one stored pixel holds (4 for the phase layout of an upsampling
    /// conv, see `ConvSpec.nearestUpsampledPhases`), each with `channels` values.
    let phaseCount: Int
    private var gamma: [Float]
    private var beta: [Float]
    /// What the last `measure` found: the normalization folded with gamma and beta.
    private(set) var scale: [Float]
    private(set) var shift: [Float]

    init(channels: Int, epsilon: Float, phaseCount: Int = 1) {
        self.channels = channels
        self.epsilon = epsilon
        self.phaseCount = phaseCount
        gamma = [Float](repeating: 1, count: channels)
        beta = [Float](repeating: 0, count: channels)
        scale = gamma
        shift = beta
    }

    func set(gamma: [Float], beta: [Float]) {
        precondition(gamma.count == channels && beta.count == channels)
        self.gamma = gamma
        self.beta = beta
    }

    /// Measures mean and variance per channel over `pixels` stored pixels of `data` (NHWC,
    /// `channels * phaseCount` values of `type` each) and folds them into `scale` and `shift`.
    func measure(_ data: UnsafeRawPointer, type: DNNLDataType = .f32, pixels: Int) {
        let stored = channels * phaseCount
        var sums = [Double](repeating: 0, count: stored), squares = [Double](repeating: 0, count: stored)
        stylize_channel_moments(data, type == .bf16 ? 1 : 0, pixels * stored, Int32(stored), &sums, &squares)
        let n = Double(pixels * phaseCount)
        for c in 0..<channels {
            let sum = (0..<phaseCount).reduce(0.0) { $0 + sums[$1 * channels + c] }
            let sumOfSquares = (0..<phaseCount).reduce(0.0) { $0 + squares[$1 * channels + c] }
            let mean = sum / n
            let variance = max(sumOfSquares / n - mean * mean, 0)
            let s = Double(gamma[c]) / (variance + Double(epsilon)).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(beta[c]) - mean * s)
        }
    }

    /// Applies `scale` and `shift` in place (the last layer, which no gather reads).
    func apply(_ data: UnsafeMutablePointer<Float>, pixels: Int) {
        let scale = Array(repeatElement(scale, count: phaseCount).joined()), shift = Array(repeatElement(shift, count: phaseCount).joined())
        stylize_affine(data, pixels * channels * phaseCount, Int32(channels * phaseCount), scale, shift)
    }
}
