import Foundation
import CDNNL

/// The style-prediction network (Ghiasi et al. 2017, section 3.2): MobileNetV2, width 1.0,
/// that maps a square picture to a 100-number style vector.
///
/// It was trained on 256x256 pictures, but it is convolutional up to a global average pool, so
/// it runs on any square side: smaller sides see the style's features larger (coarser, bigger
/// brush marks in the result), as the style-size slider of Magenta's browser demo does. One
/// network is built per side asked for, on first use.
///
/// It runs in f32 whatever the transformer's precision: it runs once per style, not per frame,
/// and the vector steers every frame. `vector(for:)` may be called from any thread (calls are
/// serialised by `lock`, which also guards the networks built so far).
public final class StylePredictor: @unchecked Sendable {
    /// Side of the square input the network was trained at, and the default style size.
    public static let inputSize = 256
    /// Sides `vector(for:)` accepts: the network halves the side five times, and beyond 1024
    /// a style picture's features shrink to noise.
    public static let sideRange = 64...1024

    private let model: ONNXModel
    private let engine: DNNLEngine
    private var networks: [Int: Network] = [:]
    private let lock = NSLock()

    /// Builds no network yet: jobs whose styles are vectors (the gallery, .json files) never
    /// run the predictor, and start without its primitives.
    init(model: ONNXModel, engine: DNNLEngine) {
        self.model = model
        self.engine = engine
    }

    /// The style vector of a square image whose side is in `sideRange` (see
    /// `Stylizer.styleVector(for:styleSize:)` for any other picture).
    public func vector(for image: RGBImage) throws -> StyleVector {
        guard image.width == image.height, Self.sideRange.contains(image.width) else {
            throw StylizeError.invalidArgument("the style predictor takes square images of \(Self.sideRange.lowerBound) to \(Self.sideRange.upperBound) pixels a side, got \(image.width)x\(image.height)")
        }
        lock.lock()
        defer { lock.unlock() }
        let network = try networks[image.width] ?? Network(model: model, engine: engine, side: image.width)
        networks[image.width] = network
        return try network.vector(for: image)
    }

    /// The layers for one input side, with their own stream and activations.
    private final class Network {
        private let stream: DNNLStream
        private let input: DNNLMemory
        private let output: DNNLMemory
        private var steps: [() throws -> Void] = []
        /// The layers' outputs, backed only while a vector is computed.
        private let activations: ScratchArena

        init(model: ONNXModel, engine: DNNLEngine, side size: Int) throws {
            let stream = try DNNLStream(engine: engine)
            self.stream = stream
            let arena = ScratchArena()
            activations = arena
            input = try DNNLMemory(f32: [1, 3, size, size], tag: dnnl_nhwc, engine: engine)

            var current = input
            var (height, width, channels) = (size, size, 3)
            var steps: [() throws -> Void] = []
            func conv(_ weights: String, _ activation: ConvActivation) throws {
                try conv(model.conv(weights: weights), activation)
            }
            func conv(_ spec: ConvSpec, _ activation: ConvActivation) throws {
                guard spec.inputChannels == channels else {
                    throw StylizeError.modelDamaged(path: model.path, reason: "\(spec.name) expects \(spec.inputChannels) channels, gets \(channels)")
                }
                let layer = try ConvolutionLayer(spec, input: current, inputHeight: height, inputWidth: width, type: .f32,
                                                 activation: activation, sharedOutput: arena, stream: stream)
                steps.append { try layer.execute(stream) }
                (current, height, width, channels) = (layer.output, layer.outputHeight, layer.outputWidth, spec.outputChannels)
            }

            try conv("MobilenetV2/Conv/weights", .relu6)
            // Inverted residual blocks: [1x1 expand + ReLU6], 3x3 depthwise + ReLU6, 1x1 linear
            // project, and a residual add where the block keeps stride 1 and its channel count.
            var block = 0
            while true {
                let prefix = "MobilenetV2/expanded_conv" + (block == 0 ? "" : "_\(block)")
                guard let depthwise = try? model.conv(weights: prefix + "/depthwise/depthwise_weights") else { break }
                let (blockInput, inputChannels) = (current, channels)
                if let expand = try? model.conv(weights: prefix + "/expand/weights") {
                    try conv(expand, .relu6)
                }
                try conv(depthwise, .relu6)
                try conv(prefix + "/project/weights", .none)
                if depthwise.strides == [1, 1] && channels == inputChannels {
                    let add = try AddLayer(current, blockInput, into: current, stream: stream)
                    steps.append { try add.execute(stream) }
                }
                block += 1
            }
            guard block > 0 else { throw StylizeError.modelDamaged(path: model.path, reason: "no MobileNetV2 blocks") }
            try conv("MobilenetV2/Conv_1/weights", .relu6)
            let pool = try GlobalAveragePoolLayer(input: current, channels: channels, height: height, width: width, stream: stream)
            steps.append { try pool.execute(stream) }
            (current, height, width) = (pool.output, 1, 1)
            try conv("mobilenet_conv/Conv/weights", .none)
            guard channels == StyleVector.dimension else {
                throw StylizeError.modelDamaged(path: model.path, reason: "the predictor gives \(channels) numbers, not \(StyleVector.dimension)")
            }
            output = current
            self.steps = steps
        }

        func vector(for image: RGBImage) throws -> StyleVector {
            input.write(image.pixels)
            return try activations.withBuffer {
                for step in steps { try step() }
                try stream.wait()
                return try StyleVector(Array(UnsafeBufferPointer(start: output.floats, count: StyleVector.dimension)))
            }
        }
    }
}
