import Foundation

/// What a transformer plan is assembled from, in network order: the steps a frame runs, the
/// kernel oneDNN chose for each conv, and the two buffers every gather's padded copy and every
/// conv output outside the trunk share (each is read by the very next step and is dead before
/// the next one like it is written). `TransformerPlan` and `QuantizedTransformerPlan` add
/// their own layers to it.
class PlanBuilder {
    let stream: DNNLStream
    /// The type of the activations the gathers write.
    let type: DNNLDataType
    let padded = SharedBuffer()
    let outputs = SharedBuffer()
    var steps: [TransformerPlan.Step] = []
    var kernels: [String] = []

    init(stream: DNNLStream, type: DNNLDataType) {
        self.stream = stream
        self.type = type
    }

    var engine: DNNLEngine { stream.engine }

    /// `gather`'s padded copy, in the shared buffer.
    func paddedMemory(_ gather: PaddingGather) throws -> DNNLMemory { try gather.destination(type, engine: engine, in: padded) }

    /// Adds the gather that fills `padded` (by `fill`) and the conv that reads it.
    func add(_ layer: ConvolutionLayer, label: String, normed: Bool, fill: @escaping () -> Void) {
        let stream = stream
        steps.append(TransformerPlan.Step("\(label): pad\(normed ? " + norm" : "")") {
            try stream.wait()
            fill()
        })
        steps.append(TransformerPlan.Step(label, flops: layer.flops) { try layer.execute(stream) })
        kernels.append(layer.implementation)
    }

    /// The first conv, space-to-depth, on the picture as the input gather lays it out.
    func firstLayer(_ spec: ConvSpec, width: Int, height: Int, activation: ConvActivation, quantized: QuantizedConv? = nil) throws
        -> (layer: ConvolutionLayer, gather: PaddingGather, padded: DNNLMemory) {
        let block = PlanStages.blockSide
        let gather = PlanStages.inputGather(width: width, height: height, pad: spec.kernelHeight / 2)
        let input = try paddedMemory(gather)
        let layer = try ConvolutionLayer(spec.spaceToDepth(block), input: input,
                                         inputHeight: gather.outputHeight / block, inputWidth: gather.outputWidth / block,
                                         type: type, activation: activation, outputType: type, sharedOutput: outputs,
                                         quantized: quantized, stream: stream)
        let stream = stream
        steps.append(TransformerPlan.Step("\(spec.layerName) (space-to-depth \(block))", flops: layer.flops) { try layer.execute(stream) })
        kernels.append(layer.implementation)
        return (layer, gather, input)
    }

    /// The contracting convs after the first, each made by `convolution` from its place in
    /// `net.contract`, its spec, the gather that reflect-pads the layer before's output (in
    /// phases after the space-to-depth first conv) and the size that output stands for; the
    /// last one writes the trunk.
    func contract(_ net: StyleTransformer, from first: ConvolutionLayer,
                  _ convolution: (_ index: Int, _ spec: ConvSpec, _ gather: PaddingGather, _ source: ConvolutionLayer,
                                  _ size: (height: Int, width: Int)) throws -> ConvolutionLayer) rethrows -> ConvolutionLayer {
        var (layer, phases) = (first, PlanStages.blockSide)
        for (index, spec) in net.contract.enumerated().dropFirst() {
            let (h, w) = (layer.outputHeight * phases, layer.outputWidth * phases)
            let gather = PaddingGather.reflect(height: h, width: w, pad: spec.kernelHeight / 2, channels: spec.inputChannels, sourcePhases: phases)
            layer = try convolution(index, spec, gather, layer, (h, w))
            phases = 1
        }
        return layer
    }

    /// Checks the size the expanding convs reach, allocates the shared buffers and lays out
    /// the stages.
    func stages(input: (gather: PaddingGather, padded: DNNLMemory), reached: (width: Int, height: Int), result: DNNLMemory,
                width: Int, height: Int) throws -> PlanStages {
        let (h4, w4) = ((height + 3) / 4 * 4, (width + 3) / 4 * 4)
        guard reached.height == h4, reached.width == w4 else {
            throw StylizeError.modelDamaged(path: "transformer", reason: "output is \(reached.width)x\(reached.height), expected \(w4)x\(h4)")
        }
        try padded.allocate()
        try outputs.allocate()
        return PlanStages(stream: stream, input: input.gather, inputPadded: input.padded, inputType: type, steps: steps, result: result,
                          output: PlanStages.outputGather(width: width, height: height))
    }
}
