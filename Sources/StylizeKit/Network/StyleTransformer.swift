import Foundation
import CDNNL
import StylizeKernels

/// The style transformer network (Ghiasi et al. 2017, after Johnson et al. 2016), width 0.25:
/// three contracting convs, five residual blocks, three expanding convs, each conv after a
/// reflection pad, and every normalization a StyleNorm whose scale and shift come from the
/// style vector. Fully convolutional: any frame size works (padded to a multiple of 4).
///
/// Holds the dequantized weights, read-only and shared; each `TransformerWorker` owns the
/// primitives and scratch memory for the frame size it runs.
public final class StyleTransformer: Sendable {
    /// One StyleNorm layer: two 1x1 convs (100 -> C, with bias) give gamma and beta.
    struct StyleNormSpec: Sendable {
        var name: String
        var channels: Int
        var gamma: ConvSpec
        var beta: ConvSpec
    }

    let contract: [ConvSpec]
    let residual: [(ConvSpec, ConvSpec)]
    let expand: [ConvSpec]
    /// In network order: residual1/conv1, residual1/conv2, ..., expand/conv1..3.
    let norms: [StyleNormSpec]
    let epsilon: Float
    let engine: DNNLEngine
    /// The roundings of the shipped int8 graph, for `--precision int8`.
    let quantized: QuantizedTransformer
    /// What `.auto` stands for, decided on first use (`PrecisionProbe`).
    private let autoChoice = Locked<PrecisionChoice?>(nil)

    /// Output sides are multiples of this (two stride-2 convs, two x2 upsamplings).
    public static let stride = 4
    /// The smallest side the network accepts (its reflection pads need at least 2 pixels at 1/4 scale).
    public static let minimumSide = 8

    init(model: ONNXModel, engine: DNNLEngine) throws {
        self.engine = engine
        contract = try (1...3).map { try model.conv(weights: "transformer/contract/conv\($0)/weights") }
        residual = try (1...5).map { i in
            (try model.conv(weights: "transformer/residual/residual\(i)/conv1/weights"),
             try model.conv(weights: "transformer/residual/residual\(i)/conv2/weights"))
        }
        expand = try (1...3).map { try model.conv(weights: "transformer/expand/conv\($0)/conv/weights") }
        let normed = (1...5).flatMap { i in (1...2).map { "transformer/residual/residual\(i)/conv\($0)" } }
            + (1...3).map { "transformer/expand/conv\($0)/conv" }
        let normChannels = residual.flatMap { [$0.0.outputChannels, $0.1.outputChannels] } + expand.map(\.outputChannels)
        norms = try zip(normed, normChannels).map { name, channels in
            let gamma = try model.conv(weights: "style_params/\(name)/StyleNorm/Conv_1/weights")
            let beta = try model.conv(weights: "style_params/\(name)/StyleNorm/Conv/weights")
            guard gamma.outputChannels == channels, beta.outputChannels == channels, gamma.groups == 1, beta.groups == 1,
                  gamma.weights.shape == [channels, StyleVector.dimension, 1, 1], beta.weights.shape == [channels, StyleVector.dimension, 1, 1] else {
                throw StylizeError.modelDamaged(path: model.path, reason: "StyleNorm of \(name) does not fit its conv")
            }
            return StyleNormSpec(name: name, channels: channels, gamma: gamma, beta: beta)
        }
        let eps = try model.constantInput(op: "Add", outputPrefix: "transformer/residual/residual1/conv1/StyleNorm/batchnorm/add")
        guard eps.values.count == 1, eps.values[0] > 0 else {
            throw StylizeError.modelDamaged(path: model.path, reason: "StyleNorm epsilon is not a positive scalar")
        }
        epsilon = eps.values[0]
        quantized = try QuantizedTransformer(model, epsilon: epsilon)
        guard contract.first?.inputChannels == 3, expand.last?.outputChannels == 3 else {
            throw StylizeError.modelDamaged(path: model.path, reason: "the transformer does not map RGB to RGB")
        }
    }

    /// What `Precision.auto` stands for on this CPU and why: measured the first time it is
    /// asked for on this machine and build (a fraction of a second), then read from the models'
    /// cache folder. Workers made at once wait for the one measurement.
    public func precisionChoice() -> PrecisionChoice {
        autoChoice.withLock { choice in
            if let choice { return choice }
            let made = PrecisionProbe.choose(self)
            choice = made
            return made
        }
    }

    /// `precision` made concrete: `.auto` as `precisionChoice()` says, others as they are.
    public func resolve(_ precision: Precision) -> Precision {
        precision == .auto ? precisionChoice().precision : precision
    }

    /// Gamma and beta of every StyleNorm layer for `vector`: computed once per vector, then
    /// used for every frame.
    public func conditioning(for vector: StyleVector) -> StyleConditioning {
        func apply(_ conv: ConvSpec) -> [Float] {
            (0..<conv.outputChannels).map { c in
                var sum = conv.bias[c]
                for k in 0..<StyleVector.dimension { sum += conv.weights.values[c * StyleVector.dimension + k] * vector.values[k] }
                return sum
            }
        }
        // The int8 graph rounds the vector, and each gamma and beta, to its own steps.
        let rounded = StyleVector(unchecked: vector.values.map(quantized.vector.round))
        func applyRounded(_ conv: ConvSpec, _ rounding: Quantization) -> [Float] {
            (0..<conv.outputChannels).map { c in
                var sum = conv.bias[c]
                for k in 0..<StyleVector.dimension { sum += conv.weights.values[c * StyleVector.dimension + k] * rounded.values[k] }
                return rounding.round(sum)
            }
        }
        return StyleConditioning(vector: vector, gammas: norms.map { apply($0.gamma) }, betas: norms.map { apply($0.beta) },
                                 int8Gammas: zip(norms, quantized.gammas).map { applyRounded($0.gamma, $1) },
                                 int8Betas: zip(norms, quantized.betas).map { applyRounded($0.beta, $1) })
    }
}

/// The StyleNorm scales and shifts for one style vector.
public final class StyleConditioning: Sendable {
    /// The style vector these parameters were computed from.
    public let vector: StyleVector
    let gammas: [[Float]]
    let betas: [[Float]]
    /// The same, rounded as the int8 graph rounds them (`--precision int8`).
    let int8Gammas: [[Float]]
    let int8Betas: [[Float]]

    init(vector: StyleVector, gammas: [[Float]], betas: [[Float]], int8Gammas: [[Float]], int8Betas: [[Float]]) {
        self.vector = vector
        self.gammas = gammas
        self.betas = betas
        self.int8Gammas = int8Gammas
        self.int8Betas = int8Betas
    }
}

/// Runs the transformer on frames, one at a time. Owns its oneDNN stream, primitives and scratch
/// buffers, built on the first frame of a size and reused while the size stays the same.
/// Use one worker per thread; several workers share one `StyleTransformer`.
public final class TransformerWorker {
    /// The network this worker runs (shared with other workers).
    public let transformer: StyleTransformer
    /// The concrete precision (never `.auto`).
    public let precision: Precision
    /// Threads one frame runs on; nil: every core. Several workers at once each take a share
    /// of the cores, so that they do not fight for them.
    public let threads: Int?
    private let stream: DNNLStream
    private var plan: (any TransformerRunning)?

    /// The kernel oneDNN chose for each conv of the frame size last run, in network order
    /// ("brgconv:avx512_core_bf16", ...); empty before the first frame.
    public var convolutionKernels: [String] { plan?.convolutionKernels ?? [] }

    /// A worker for `transformer` in `precision` (`.auto`: what measures fastest here), on
    /// `threads` threads (nil: every core). Throws when this CPU cannot run the precision.
    public init(_ transformer: StyleTransformer, precision: Precision, threads: Int? = nil) throws {
        self.transformer = transformer
        self.precision = transformer.resolve(precision)
        guard self.precision != .int8 || Precision.cpuHasVNNI else {
            throw StylizeError.invalidArgument("int8 needs VNNI (AVX512-VNNI or AVX-VNNI), which this CPU lacks; use the f32 precision")
        }
        self.threads = threads
        stream = try DNNLStream(engine: transformer.engine)
    }

    /// Repaints `image` in the style `conditioning` stands for. The result has the input's size.
    /// The image is let go as soon as the network has read it: a caller that hands it over
    /// (holds no other reference) lets the result reuse its memory.
    public func stylize(_ image: consuming RGBImage, _ conditioning: StyleConditioning) throws -> RGBImage {
        try stylize(image, conditioning, profile: nil)
    }

    private func stylize(_ image: consuming RGBImage, _ conditioning: StyleConditioning,
                         profile: ((String, Double, Double) -> Void)?) throws -> RGBImage {
        try plan(width: image.width, height: image.height).run(image, conditioning, profile: profile)
    }

    /// Stylizes a 4:2:0 frame into `output`, an 8-bit 4:2:0 frame of the same size: the network
    /// reads `frame` through `conversion` and writes `output` through `outputConversion` itself,
    /// with no RGB picture in between.
    func stylize(_ frame: Frame, _ conversion: YUV420Conversion, _ conditioning: StyleConditioning,
                 into output: Frame, _ outputConversion: YUV420Conversion) throws {
        precondition(output.width == frame.width && output.height == frame.height && outputConversion.depth == 8)
        try plan(width: frame.width, height: frame.height).run(frame, conversion, conditioning, into: output, outputConversion)
    }

    /// The plan for frames of `width` x `height`, made when the size changes; also sets the
    /// calling thread's thread count for the frame about to run.
    private func plan(width: Int, height: Int) throws -> any TransformerRunning {
        guard min(width, height) >= StyleTransformer.minimumSide else {
            throw StylizeError.invalidArgument("the image is too small (\(width)x\(height)); both sides need at least \(StyleTransformer.minimumSide) pixels")
        }
        // OpenMP's thread count is a setting of the calling thread, and a worker's frames may
        // run on different threads: set it for each frame. It is set before a plan is made too,
        // since oneDNN fixes each primitive's thread count when it creates it (a plan made on a
        // thread that had every core would run each conv on that many threads, whatever the
        // thread that runs it later says).
        stylize_set_threads(Int32(threads ?? 0))
        if plan?.width != width || plan?.height != height {
            plan = nil  // free the old size's buffers before allocating the new ones
            do {
                plan = precision == .int8
                    ? try QuantizedTransformerPlan(transformer, transformer.quantized, width: width, height: height, stream: stream)
                    : try TransformerPlan(transformer, width: width, height: height, type: precision.dataType, stream: stream)
            } catch StylizeError.dnnl(let call, let status) where status == Int(dnnl_unimplemented.rawValue) && precision != .f32 {
                throw StylizeError.invalidArgument("this CPU cannot run \(precision.rawValue) convolutions (\(call)); use the f32 precision")
            }
        }
        return plan!
    }

    /// Stylizes `image` once with every step waited for and timed: the name of each gather,
    /// primitive and kernel in network order, with its milliseconds (`stylize bench --layers`).
    package func profile(_ image: RGBImage, _ conditioning: StyleConditioning) throws -> [TransformerStepTiming] {
        var steps: [TransformerStepTiming] = []
        _ = try stylize(image, conditioning) { steps.append(TransformerStepTiming(step: $0, flops: $1, milliseconds: $2)) }
        return steps
    }
}

/// One step of a timed transformer run (`TransformerWorker.profile`).
package struct TransformerStepTiming: Sendable, Encodable {
    /// The layer and what was done to it, e.g. "expand/conv3: norm statistics".
    public var step: String
    /// Floating-point operations (convolutions only; 0 for memory-bound steps).
    public var flops: Double
    public var milliseconds: Double
}

/// The transformer laid out for one frame size: buffers, gathers and primitives in order.
///
/// Where oneDNN's kernels waste most of each vector on few channels at full resolution, the
/// layers are rewritten to run at a lower resolution with more channels, computing exactly the
/// same function:
/// - the 9x9 convs in (3 -> 8) and out (8 -> 3) run space-to-depth: 4x4 pixels per stored pixel,
///   as 3x3 convs 48 -> 128 and 128 -> 48 (`ConvSpec.spaceToDepth`);
/// - the two nearest-x2-then-3x3 convs run at the low resolution in phase form
///   (`ConvSpec.nearestUpsampledPhases`).
/// Layers stay in those layouts; the gathers that pad them for the next conv read through them.
/// The expanding StyleNorms are measured by a kernel and applied by the next gather
/// (`FusedStyleNorm`); the trunk's, at 32 channels, are oneDNN's batch norm.
final class TransformerPlan: TransformerRunning {
    let width: Int, height: Int
    let stages: PlanStages
    private var norms: [InstanceNormLayer] = []
    private var expandNorms: [FusedStyleNorm] = []
    /// The bytes behind the layers' shared memories.
    private let buffers: [SharedBuffer]
    /// The kernel oneDNN chose for each conv, in network order.
    let convolutionKernels: [String]
    /// The conditioning whose gammas and betas the norm layers hold now.
    private var applied: StyleConditioning?

    static let blockSide = PlanStages.blockSide

    init(_ net: StyleTransformer, width: Int, height: Int, type: DNNLDataType, stream: DNNLStream) throws {
        self.width = width
        self.height = height
        let builder = Builder(net, stream: stream, type: type)
        let first = try builder.firstLayer(net.contract[0], width: width, height: height, activation: .relu)
        let trunk = try builder.contract(from: first.layer)
        try builder.residualBlocks(on: trunk)
        let (output, reached) = try builder.expand(from: trunk)
        let lastNorm = builder.expandNorms[builder.expandNorms.count - 1]
        let pixels = reached.width * reached.height / (Self.blockSide * Self.blockSide)
        builder.steps.append(Step("output: norm") { lastNorm.apply(output.floats, pixels: pixels) })
        let sigmoid = try EltwiseLayer(dnnl_eltwise_logistic, data: output, stream: stream)
        builder.steps.append(Step("output: sigmoid") { try sigmoid.execute(stream) })
        stages = try builder.stages(input: (first.gather, first.padded), reached: reached, result: output, width: width, height: height)
        buffers = [builder.padded, builder.outputs]
        convolutionKernels = builder.kernels
        norms = builder.norms
        expandNorms = builder.expandNorms
    }

    /// The f32 and bf16 plan's layers, added in network order.
    private final class Builder: PlanBuilder {
        let net: StyleTransformer
        var norms: [InstanceNormLayer] = []
        var expandNorms: [FusedStyleNorm] = []

        init(_ net: StyleTransformer, stream: DNNLStream, type: DNNLDataType) {
            self.net = net
            super.init(stream: stream, type: type)
        }

        /// Adds the gather of `source` into `gather`'s padded copy (applying `norm` and a ReLU
        /// on the way, when given) and the conv that reads it.
        func convolution(_ spec: ConvSpec, gather: PaddingGather, from source: DNNLMemory, norm: FusedStyleNorm? = nil,
                         activation: ConvActivation = .none, output: DNNLMemory? = nil, outputType: DNNLDataType = .f32,
                         sharesOutput: Bool = true, label: String? = nil) throws -> ConvolutionLayer {
            let padded = try paddedMemory(gather)
            let p = gather.destinationPhases
            let layer = try ConvolutionLayer(spec, input: padded, inputHeight: gather.outputHeight / p, inputWidth: gather.outputWidth / p,
                                             type: type, activation: activation, output: output, outputType: outputType,
                                             sharedOutput: sharesOutput ? outputs : nil, stream: stream)
            let type = type
            add(layer, label: label ?? spec.layerName, normed: norm != nil) {
                gather.run(from: source.data, sourceType: source.elementType, to: padded.data, type: type, norm: norm, relu: norm != nil)
            }
            return layer
        }

        /// The contracting convs after the first; the last one writes the trunk, in f32 (oneDNN's
        /// norms and adds work on it).
        func contract(from first: ConvolutionLayer) throws -> ConvolutionLayer {
            try contract(net, from: first) { index, spec, gather, source, _ in
                let isTrunk = index == net.contract.count - 1
                return try convolution(spec, gather: gather, from: source.output, activation: .relu, outputType: isTrunk ? .f32 : type,
                                       sharesOutput: !isTrunk)
            }
        }

        /// The residual blocks, adding into the trunk in place. Inside a block, conv1's output
        /// is dead once conv2's padded input is gathered, and conv2's once it is added to the
        /// trunk: one scratch buffer serves all ten convs.
        func residualBlocks(on trunk: ConvolutionLayer) throws {
            let (qh, qw) = (trunk.outputHeight, trunk.outputWidth)
            let scratch = try DNNLMemory(f32: [1, net.residual[0].0.outputChannels, qh, qw], tag: dnnl_nhwc, engine: engine)
            for (conv1, conv2) in net.residual {
                guard conv1.outputChannels == scratch.channelCount, conv2.outputChannels == scratch.channelCount else {
                    throw StylizeError.modelDamaged(path: "transformer", reason: "residual blocks change the channel count")
                }
                let pad = PaddingGather.reflect(height: qh, width: qw, pad: conv1.kernelHeight / 2, channels: conv1.inputChannels)
                let a = try convolution(conv1, gather: pad, from: trunk.output, output: scratch)
                try styleNorm(a, channels: conv1.outputChannels, relu: true)
                let b = try convolution(conv2, gather: pad, from: a.output, output: scratch)
                try styleNorm(b, channels: conv2.outputChannels, relu: false)
                let add = try AddLayer(trunk.output, b.output, into: trunk.output, stream: stream)
                let stream = stream
                steps.append(Step("\(conv2.layerName): add") { try add.execute(stream) })
            }
        }

        private func styleNorm(_ layer: ConvolutionLayer, channels: Int, relu: Bool) throws {
            let norm = try InstanceNormLayer(data: layer.output, channels: channels, epsilon: net.epsilon, relu: relu, stream: stream)
            norms.append(norm)
            let stream = stream
            steps.append(Step("\(layer.name): norm") { try norm.execute(stream) })
        }

        /// The expanding convs: the two upsampling ones in phase form (nearest x2 then reflect 1
        /// is edge 1 at the low resolution), outputs stored as 2x2 phases; the last one
        /// space-to-depth. Each StyleNorm is measured after its conv and applied by the next
        /// gather. Returns the last output and the size it stands for.
        func expand(from trunk: ConvolutionLayer) throws -> (DNNLMemory, (width: Int, height: Int)) {
            let block = PlanStages.blockSide
            var (source, h, w, phases) = (trunk.output, trunk.outputHeight, trunk.outputWidth, 1)
            var sourceNorm: FusedStyleNorm?
            for (index, spec) in net.expand.enumerated() {
                let last = index == net.expand.count - 1
                let gather = last
                    ? PaddingGather.reflect(height: h, width: w, pad: spec.kernelHeight / 2, channels: spec.inputChannels,
                                            sourcePhases: phases, destinationPhases: block)
                    : PaddingGather.edge(height: h, width: w, pad: 1, channels: spec.inputChannels, sourcePhases: phases)
                let layer = try convolution(last ? spec.spaceToDepth(block) : spec.nearestUpsampledPhases(), gather: gather,
                                            from: source, norm: sourceNorm, outputType: last ? .f32 : type,
                                            label: spec.layerName + (last ? " (space-to-depth \(block))" : " (x2 phases)"))
                let outputPhases = last ? block : 2
                let styleNorm = FusedStyleNorm(channels: spec.outputChannels, epsilon: net.epsilon, phaseCount: outputPhases * outputPhases)
                expandNorms.append(styleNorm)
                let pixels = layer.outputHeight * layer.outputWidth, output = layer.output, stream = stream
                steps.append(Step("\(spec.layerName): norm statistics") {
                    try stream.wait()
                    styleNorm.measure(output.data, type: output.elementType, pixels: pixels)
                })
                (source, sourceNorm, phases) = (layer.output, styleNorm, outputPhases)
                (h, w) = (layer.outputHeight * outputPhases, layer.outputWidth * outputPhases)
            }
            return (source, (w, h))
        }
    }

    /// One step of a frame: a gather, a primitive or a kernel, named for `stylize bench --layers`.
    struct Step {
        let name: String
        /// Floating-point operations of a conv step as it runs (0 for the memory-bound ones).
        let flops: Double
        let body: () throws -> Void
        init(_ name: String, flops: Double = 0, _ body: @escaping () throws -> Void) {
            self.name = name
            self.flops = flops
            self.body = body
        }
    }

    /// Sets the norm layers' gammas and betas to `conditioning`'s, unless they hold them already.
    func apply(_ conditioning: StyleConditioning) {
        guard applied !== conditioning else { return }
        for (i, norm) in norms.enumerated() { norm.set(gamma: conditioning.gammas[i], beta: conditioning.betas[i]) }
        for (i, norm) in expandNorms.enumerated() {
            norm.set(gamma: conditioning.gammas[norms.count + i], beta: conditioning.betas[norms.count + i])
        }
        applied = conditioning
    }
}
