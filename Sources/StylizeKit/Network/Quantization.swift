import Foundation

/// One rounding of the int8 graph: a QuantizeLinear's step and zero point. `--precision int8`
/// stores each activation as a byte, its signed level plus 128.
struct Quantization: Sendable, Equatable {
    let scale: Float
    let zeroPoint: Int

    /// The signed level of `x`: x / scale rounded to the nearest integer (ties to even, as
    /// ONNX's QuantizeLinear), plus the zero point, clamped to -128...127.
    func level(_ x: Float) -> Int {
        let q = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        return q.isNaN ? zeroPoint : Int(max(-128, min(127, q)))
    }

    /// The value a level stands for.
    func value(_ level: Int) -> Float { scale * Float(level - zeroPoint) }

    /// `x` rounded onto this grid: QuantizeLinear then DequantizeLinear.
    func round(_ x: Float) -> Float { value(level(x)) }

    /// The byte that stores `x`'s level.
    func byte(_ x: Float) -> UInt8 { UInt8(level(x) + 128) }

    /// The value of a stored byte.
    func value(byte: Int) -> Float { value(byte - 128) }

    /// The zero point as a byte.
    var zeroByte: Int { zeroPoint + 128 }
}

/// What an int8 conv needs beyond its float spec: the weights' steps (per output channel) and
/// the roundings of its input and its output.
struct QuantizedConv {
    let weightScales: [Float]
    let input: Quantization
    let output: Quantization

    /// The weights' int8 levels (the float weights are levels times their channel's step, exactly).
    func levels(_ spec: ConvSpec) -> [Int8] {
        let perChannel = spec.weights.values.count / spec.outputChannels
        return spec.weights.values.enumerated().map { i, w in
            Int8(max(-127, min(127, (w / weightScales[i / perChannel]).rounded(.toNearestOrEven))))
        }
    }

    /// oneDNN's output scale per channel: its result is scale * (sum of products + bias).
    var outputScales: [Float] { weightScales.map { input.scale * $0 / output.scale } }

    /// The bias in units of the sum of products, with both zero points folded in:
    /// bias / (input step * weight step) - input zero * sum of the channel's weights
    /// + output zero / output scale.
    func bias(_ spec: ConvSpec, levels: [Int8]) -> [Float] {
        let perChannel = levels.count / spec.outputChannels
        return (0..<spec.outputChannels).map { o in
            let sum = levels[(o * perChannel)..<((o + 1) * perChannel)].reduce(0) { $0 + Int($1) }
            let step = Double(input.scale) * Double(weightScales[o])
            return Float(Double(spec.bias[o]) / step - Double(input.zeroByte * sum)
                         + Double(output.zeroByte) / Double(outputScales[o]))
        }
    }

    /// The same conv rewritten space-to-depth (`ConvSpec.spaceToDepth`): each output channel's
    /// step repeated for every phase.
    func spaceToDepth(_ block: Int) -> QuantizedConv {
        QuantizedConv(weightScales: Array(repeatElement(weightScales, count: block * block).joined()), input: input, output: output)
    }
}

/// The int8 graph's StyleNorm of one conv's output, with every rounding it makes: the mean,
/// the squared differences, the variance, variance + epsilon, its reciprocal square root,
/// gamma times that (the scale), mean times the scale, beta minus that (the shift), the value
/// times the scale, and the sum (or its ReLU). Given a channel's histogram, all of it is a
/// function of the conv output's byte: `table` computes that function once per frame.
struct QuantizedStyleNorm: Sendable {
    let input, mean, squares, variance, sum, rsqrt, scale, meanScaled, shift, scaled: Quantization
    /// The layer's result: its ReLU (the next conv's input) or the sum itself.
    let output: Quantization
    let relu: Bool
    /// epsilon as the graph holds it (an int8 constant).
    let epsilon: Float

    /// Reads the roundings of layer `name` ("transformer/residual/residual1/conv1").
    init(_ model: ONNXModel, name: String, relu: Bool, epsilon: Float) throws {
        func q(_ suffix: String) throws -> Quantization { try model.quantization(of: name + suffix) }
        input = try q("/Conv2D")
        mean = try q("/StyleNorm/moments/mean")
        squares = try q("/StyleNorm/moments/SquaredDifference_int8")
        variance = try q("/StyleNorm/moments/variance")
        sum = try q("/StyleNorm/batchnorm/add")
        rsqrt = try q("/StyleNorm/batchnorm/Rsqrt_int8")
        scale = try q("/StyleNorm/batchnorm/mul")
        meanScaled = try q("/StyleNorm/batchnorm/mul_2")
        shift = try q("/StyleNorm/batchnorm/sub")
        scaled = try q("/StyleNorm/batchnorm/mul_1")
        output = try q(relu ? "/Relu" : "/StyleNorm/batchnorm/add_1")
        self.relu = relu
        self.epsilon = epsilon
    }

    /// For each channel, the value each of the 256 input bytes becomes (before the output's
    /// rounding), given the channel histograms `counts` (channels x 256) and the rounded gamma
    /// and beta.
    func values(counts: [UInt64], gamma: [Float], beta: [Float]) -> [[Float]] {
        let inputValues = (0..<256).map { input.value(byte: $0) }
        return gamma.indices.map { c in
            let histogram = counts[(c * 256)..<((c + 1) * 256)]
            let n = Double(histogram.reduce(0, +))
            var total = 0.0
            for (v, count) in zip(inputValues, histogram) where count > 0 { total += Double(count) * Double(v) }
            let m = mean.round(Float(total / n))
            var squaresTotal = 0.0
            for (v, count) in zip(inputValues, histogram) where count > 0 {
                squaresTotal += Double(count) * Double(squares.round((v - m) * (v - m)))
            }
            let v = variance.round(Float(squaresTotal / n))
            let r = rsqrt.round(1 / sum.round(v + epsilon).squareRoot())
            let s = scale.round(r * gamma[c])
            let b = shift.round(beta[c] - meanScaled.round(m * s))
            return inputValues.map { scaled.round($0 * s) + b }
        }
    }

    /// The table from each channel's input byte to its output byte (channels x 256).
    func table(counts: [UInt64], gamma: [Float], beta: [Float]) -> [UInt8] {
        values(counts: counts, gamma: gamma, beta: beta).flatMap { row in row.map { output.byte(relu ? max($0, 0) : $0) } }
    }
}

extension ONNXModel {
    /// The step and zero point of the QuantizeLinear node that writes `output`: where the int8
    /// graph rounds an activation (`--precision int8` rounds at the same places).
    func quantization(of output: String) throws -> Quantization {
        guard let node = nodes.first(where: { $0.opType == "QuantizeLinear" && $0.output.first == output }), node.input.count >= 3,
              let scale = constants[node.input[1]]?.values, let zero = constants[node.input[2]]?.values,
              scale.count == 1, zero.count == 1, scale[0] > 0, scale[0].isFinite, (-128...127).contains(zero[0]) else {
            throw StylizeError.modelDamaged(path: path, reason: "no int8 QuantizeLinear writes \(output)")
        }
        return Quantization(scale: scale[0], zeroPoint: Int(zero[0]))
    }
}
