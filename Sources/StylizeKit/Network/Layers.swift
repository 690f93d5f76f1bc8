import CDNNL

/// What runs right after a convolution, fused into it.
enum ConvActivation {
    case none, relu, relu6
}

/// A convolution primitive built for one input size, its weights reordered once into the
/// layout the chosen implementation wants, writing a plain NHWC f32 output.
final class ConvolutionLayer {
    let name: String
    /// Floating-point operations per run (two per multiply-add).
    let flops: Double
    /// The kernel oneDNN chose, e.g. "brgconv:avx512_core_bf16".
    let implementation: String
    let output: DNNLMemory
    let outputHeight: Int, outputWidth: Int
    private let primitive: DNNLPrimitive

    /// - Parameters:
    ///   - input: NHWC memory of `inputHeight` x `inputWidth` (already reflect-padded where
    ///     the network pads by reflection; the spec's own zero padding is applied here).
    ///   - type: element type of `input` and of the weights (f32, or bf16 for AMX/AVX512-BF16).
    ///   - output: where to write (a plain NHWC memory of the output's shape), shared with
    ///     other layers whose outputs are dead by then; nil allocates one.
    ///   - outputType: the output's element type: f32, or bf16 where only StylizeKit's own
    ///     kernels read it (half the memory traffic).
    ///   - sharedOutput: where an output made here takes its bytes from (nil: its own buffer).
    ///   - quantized: for the int8 network: the weights' per-output-channel steps and the
    ///     roundings of input and output. Input and output are then bytes (levels plus 128), the
    ///     weights int8, and the zero points are folded into the bias (every conv here is VALID,
    ///     so no zero padding meets them).
    init(_ spec: ConvSpec, input: DNNLMemory, inputHeight: Int, inputWidth: Int, type: DNNLDataType,
         activation: ConvActivation, output: DNNLMemory? = nil, outputType: DNNLDataType = .f32,
         sharedOutput: MemoryLender? = nil, quantized: QuantizedConv? = nil, stream: DNNLStream) throws {
        let engine = stream.engine
        name = spec.layerName
        let (o, i, kh, kw, g) = (spec.outputChannels, spec.inputChannels, spec.kernelHeight, spec.kernelWidth, spec.groups)
        let sh = spec.strides[0], sw = spec.strides[1]
        outputHeight = (inputHeight + spec.padTop + spec.padBottom - kh) / sh + 1
        outputWidth = (inputWidth + spec.padLeft + spec.padRight - kw) / sw + 1
        guard outputHeight > 0, outputWidth > 0 else {
            throw StylizeError.invalidArgument("the image is too small for the network (\(inputWidth)x\(inputHeight) at \(spec.name))")
        }
        flops = 2 * Double(outputHeight * outputWidth * o * (i / g) * kh * kw)
        let weightDims = g == 1 ? [o, i, kh, kw] : [g, o / g, i / g, kh, kw]
        let srcDesc = try dnnlMemoryDesc([1, i, inputHeight, inputWidth], type.raw, dnnl_nhwc)
        let weightsAny = try dnnlMemoryDesc(weightDims, quantized == nil ? type.raw : dnnl_s8, dnnl_format_tag_any)
        let biasDesc = try dnnlMemoryDesc([o], dnnl_f32, dnnl_x)
        let dstDesc = try dnnlMemoryDesc([1, o, outputHeight, outputWidth], outputType.raw, dnnl_nhwc)

        var desc = dnnl_convolution_desc_t()
        var (s, w, b, d) = (srcDesc, weightsAny, biasDesc, dstDesc)
        try dnnlCheck(dnnl_convolution_forward_desc_init(
            &desc, dnnl_forward_inference, dnnl_convolution_direct, &s, &w, &b, &d,
            [sh, sw].map(Int64.init), [spec.padTop, spec.padLeft].map(Int64.init),
            [spec.padBottom, spec.padRight].map(Int64.init)), "dnnl_convolution_forward_desc_init(\(spec.name))")
        let attributes = try DNNLAttributes()
        var biasValues = spec.bias
        var userWeights = try DNNLMemory(f32: weightDims, tag: g == 1 ? dnnl_oihw : dnnl_goihw, engine: engine)
        if let quantized {
            precondition(g == 1 && spec.padTop + spec.padLeft + spec.padBottom + spec.padRight == 0, "int8 convs are VALID and ungrouped")
            let levels = quantized.levels(spec)
            try attributes.setOutputScales(quantized.outputScales)
            biasValues = quantized.bias(spec, levels: levels)
            userWeights = try DNNLMemory(dnnlMemoryDesc(weightDims, dnnl_s8, dnnl_oihw), engine: engine)
            levels.withUnsafeBytes { userWeights.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        } else {
            userWeights.write(spec.weights.values)
        }
        switch activation {
        case .none: break
        case .relu: try attributes.setPostOp(dnnl_eltwise_relu)
        case .relu6: try attributes.setPostOp(dnnl_eltwise_clip, alpha: 0, beta: 6)
        }
        let pd = try withUnsafePointer(to: &desc) {
            try DNNLPrimitiveDesc(UnsafeRawPointer($0), attributes: attributes, engine: engine, name: spec.name)
        }
        implementation = pd.implementation

        // Weights: ONNX OIHW (goihw for grouped) f32 or int8 -> whatever the implementation picked.
        let weights = try DNNLMemory(pd.memoryDesc(dnnl_query_weights_md), engine: engine)
        try DNNLPrimitive.reorder(userWeights, into: weights, stream: stream)
        let bias = try DNNLMemory(biasDesc, engine: engine)
        bias.write(biasValues)
        if let output {
            self.output = output
        } else if let sharedOutput {
            self.output = try DNNLMemory(dstDesc, engine: engine, in: sharedOutput)
        } else {
            self.output = try DNNLMemory(dstDesc, engine: engine)
        }
        primitive = try DNNLPrimitive(pd, arguments: [
            (DNNL_ARG_SRC, input), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, self.output),
        ])
    }

    func execute(_ stream: DNNLStream) throws { try primitive.execute(stream) }
}

/// StyleNorm (Ghiasi et al. 2017, section 3): instance normalization whose per-channel scale
/// and shift come from the style vector. With one image, oneDNN's batch normalization computes
/// its statistics over H x W, which is exactly instance norm; ReLU can be fused into it.
/// Works in place on an NHWC f32 memory.
final class InstanceNormLayer {
    let scale: DNNLMemory
    let shift: DNNLMemory
    private let primitive: DNNLPrimitive

    init(data: DNNLMemory, channels: Int, epsilon: Float, relu: Bool, stream: DNNLStream) throws {
        let engine = stream.engine
        var desc = dnnl_batch_normalization_desc_t()
        var dataDesc = data.desc
        var flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        if relu { flags |= dnnl_fuse_norm_relu.rawValue }
        try dnnlCheck(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &dataDesc, epsilon, UInt32(flags)),
                      "dnnl_batch_normalization_forward_desc_init")
        let pd = try withUnsafePointer(to: &desc) {
            try DNNLPrimitiveDesc(UnsafeRawPointer($0), attributes: nil, engine: engine, name: "instance norm")
        }
        scale = try DNNLMemory(f32: [channels], tag: dnnl_x, engine: engine)
        shift = try DNNLMemory(f32: [channels], tag: dnnl_x, engine: engine)
        let mean = try DNNLMemory(f32: [channels], tag: dnnl_x, engine: engine)
        let variance = try DNNLMemory(f32: [channels], tag: dnnl_x, engine: engine)
        var arguments: [(Int32, DNNLMemory)] = [
            (DNNL_ARG_SRC, data), (DNNL_ARG_DST, data), (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
            (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance),
        ]
        var workspaceDesc = pd.memoryDesc(dnnl_query_workspace_md)
        if dnnl_memory_desc_get_size(&workspaceDesc) > 0 {
            arguments.append((DNNL_ARG_WORKSPACE, try DNNLMemory(workspaceDesc, engine: engine)))
        }
        primitive = try DNNLPrimitive(pd, arguments: arguments)
    }

    func set(gamma: [Float], beta: [Float]) {
        scale.write(gamma)
        shift.write(beta)
    }

    func execute(_ stream: DNNLStream) throws { try primitive.execute(stream) }
}

/// dst = a + b, element-wise (residual connections); `dst` may be `a`.
final class AddLayer {
    private let primitive: DNNLPrimitive

    init(_ a: DNNLMemory, _ b: DNNLMemory, into dst: DNNLMemory, stream: DNNLStream) throws {
        var desc = dnnl_binary_desc_t()
        var (da, db, dd) = (a.desc, b.desc, dst.desc)
        try dnnlCheck(dnnl_binary_desc_init(&desc, dnnl_binary_add, &da, &db, &dd), "dnnl_binary_desc_init")
        let pd = try withUnsafePointer(to: &desc) {
            try DNNLPrimitiveDesc(UnsafeRawPointer($0), attributes: nil, engine: stream.engine, name: "add")
        }
        primitive = try DNNLPrimitive(pd, arguments: [(DNNL_ARG_SRC_0, a), (DNNL_ARG_SRC_1, b), (DNNL_ARG_DST, dst)])
    }

    func execute(_ stream: DNNLStream) throws { try primitive.execute(stream) }
}

/// An element-wise function applied in place (the transformer's final sigmoid).
final class EltwiseLayer {
    private let primitive: DNNLPrimitive

    init(_ alg: dnnl_alg_kind_t, data: DNNLMemory, stream: DNNLStream) throws {
        var desc = dnnl_eltwise_desc_t()
        var dataDesc = data.desc
        try dnnlCheck(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, alg, &dataDesc, 0, 0), "dnnl_eltwise_forward_desc_init")
        let pd = try withUnsafePointer(to: &desc) {
            try DNNLPrimitiveDesc(UnsafeRawPointer($0), attributes: nil, engine: stream.engine, name: "eltwise")
        }
        primitive = try DNNLPrimitive(pd, arguments: [(DNNL_ARG_SRC, data), (DNNL_ARG_DST, data)])
    }

    func execute(_ stream: DNNLStream) throws { try primitive.execute(stream) }
}

/// Global average pooling of an NHWC f32 memory to 1 x 1.
final class GlobalAveragePoolLayer {
    let output: DNNLMemory
    private let primitive: DNNLPrimitive

    init(input: DNNLMemory, channels: Int, height: Int, width: Int, stream: DNNLStream) throws {
        let engine = stream.engine
        output = try DNNLMemory(f32: [1, channels, 1, 1], tag: dnnl_nhwc, engine: engine)
        var desc = dnnl_pooling_desc_t()
        var (src, dst) = (input.desc, output.desc)
        try dnnlCheck(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, dnnl_pooling_avg_exclude_padding, &src, &dst,
                                                     [1, 1], [Int64(height), Int64(width)], [0, 0], [0, 0]),
                      "dnnl_pooling_forward_desc_init")
        let pd = try withUnsafePointer(to: &desc) {
            try DNNLPrimitiveDesc(UnsafeRawPointer($0), attributes: nil, engine: engine, name: "average pool")
        }
        primitive = try DNNLPrimitive(pd, arguments: [(DNNL_ARG_SRC, input), (DNNL_ARG_DST, output)])
    }

    func execute(_ stream: DNNLStream) throws { try primitive.execute(stream) }
}
