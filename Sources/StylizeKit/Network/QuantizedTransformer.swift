import Foundation

/// The transformer as the shipped int8 graph computes it (`--precision int8`): every rounding
/// of its QuantizeLinear/DequantizeLinear pairs, read from the model, so that the result is
/// onnxruntime's on the same graph. Convs run on oneDNN's int8 kernels (u8 activations, s8
/// weights, VNNI where the CPU has it); each StyleNorm, with its ten roundings, becomes a table
/// per channel from a histogram of the conv's output (`QuantizedStyleNorm`).
struct QuantizedTransformer: Sendable {
    /// The network's input bytes: the picture's values in steps of 1/255.
    let input: Quantization
    /// The three contracting convs, their outputs after ReLU.
    let contract: [QuantizedConv]
    struct Residual: Sendable {
        let conv1: QuantizedConv, norm1: QuantizedStyleNorm
        let conv2: QuantizedConv, norm2: QuantizedStyleNorm
        /// The block's sum with its input.
        let sum: Quantization
    }
    let residual: [Residual]
    let expand: [QuantizedConv]
    let expandNorms: [QuantizedStyleNorm]
    /// The final sigmoid's rounding: steps of 1/256.
    let sigmoid: Quantization
    /// The style vector's rounding, and of each StyleNorm's gamma and beta, in network order.
    let vector: Quantization
    let gammas: [Quantization]
    let betas: [Quantization]

    init(_ model: ONNXModel, epsilon: Float) throws {
        input = try model.quantization(of: "transformer/contract/MirrorPad_int8")
        var previous = input
        contract = try (1...3).map { k in
            let name = "transformer/contract/conv\(k)"
            let conv = QuantizedConv(weightScales: try model.weightScales(name + "/weights"), input: previous,
                                     output: try model.quantization(of: name + "/Relu"))
            // The ReLU is the bytes' floor: it needs the zero point at byte 0.
            guard conv.output.zeroPoint == -128 else {
                throw StylizeError.modelDamaged(path: model.path, reason: "\(name)'s ReLU output is not rounded from zero")
            }
            previous = conv.output
            return conv
        }
        residual = try (1...5).map { i in
            let name = "transformer/residual/residual\(i)"
            let norm1 = try QuantizedStyleNorm(model, name: name + "/conv1", relu: true, epsilon: epsilon)
            let norm2 = try QuantizedStyleNorm(model, name: name + "/conv2", relu: false, epsilon: epsilon)
            let block = Residual(
                conv1: QuantizedConv(weightScales: try model.weightScales(name + "/conv1/weights"), input: previous, output: norm1.input),
                norm1: norm1,
                conv2: QuantizedConv(weightScales: try model.weightScales(name + "/conv2/weights"), input: norm1.output, output: norm2.input),
                norm2: norm2, sum: try model.quantization(of: name + "/add"))
            previous = block.sum
            return block
        }
        var convs: [QuantizedConv] = [], norms: [QuantizedStyleNorm] = []
        for k in 1...3 {
            let name = "transformer/expand/conv\(k)/conv"
            let norm = try QuantizedStyleNorm(model, name: name, relu: k < 3, epsilon: epsilon)
            convs.append(QuantizedConv(weightScales: try model.weightScales(name + "/weights"), input: previous, output: norm.input))
            norms.append(norm)
            previous = norm.output
        }
        (expand, expandNorms) = (convs, norms)
        sigmoid = try model.quantization(of: "transformer/expand/conv3/conv/Sigmoid_int8")
        vector = try model.quantization(of: "mobilenet_conv/Conv/BiasAdd_int8")
        let names = (1...5).flatMap { i in (1...2).map { "transformer/residual/residual\(i)/conv\($0)" } }
            + (1...3).map { "transformer/expand/conv\($0)/conv" }
        gammas = try names.map { try model.quantization(of: "style_params/\($0)/StyleNorm/Conv_1/BiasAdd") }
        betas = try names.map { try model.quantization(of: "style_params/\($0)/StyleNorm/Conv/BiasAdd") }
    }

    /// The table of a residual block's sum: byte t of the block's input plus byte a of its
    /// second StyleNorm, rounded as the block's output (256 x 256).
    func sumTable(_ block: Int) -> [UInt8] {
        let trunk = block == 0 ? contract[contract.count - 1].output : residual[block - 1].sum
        let b = residual[block]
        return (0..<256).flatMap { t in (0..<256).map { a in b.sum.byte(trunk.value(byte: t) + b.norm2.output.value(byte: a)) } }
    }

    /// The output's value for each byte of the last conv, per channel: its StyleNorm's sum,
    /// rounded, through the sigmoid, rounded to 1/256.
    func outputTable(counts: [UInt64], gamma: [Float], beta: [Float]) -> [Float] {
        let norm = expandNorms[expandNorms.count - 1]
        return norm.values(counts: counts, gamma: gamma, beta: beta).flatMap { row in
            row.map { sigmoid.round(1 / (1 + exp(-norm.output.round($0)))) }
        }
    }
}
