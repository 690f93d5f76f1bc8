import CDNNL
import Foundation
import StylizeKernels

/// The int8 transformer (`QuantizedTransformer`) laid out for one frame size. Activations are
/// bytes from the first gather to the last conv; the first and last 9x9 convs run
/// space-to-depth as in `TransformerPlan` (a rearrangement of the int8 weights, exact). The two
/// upsampling convs run at full resolution on gathered copies: their phase form sums weights,
/// which leaves int8's range.
final class QuantizedTransformerPlan: TransformerRunning {
    let width: Int, height: Int
    let stages: PlanStages
    private let buffers: [SharedBuffer]
    let convolutionKernels: [String]
    /// The style the frame being run is in; its gammas and betas enter each norm's table.
    private let current = CurrentConditioning()

    final class CurrentConditioning {
        var conditioning: StyleConditioning?
        /// Each StyleNorm's table for the frame being run, in network order.
        var tables: [[UInt8]] = []
    }

    static let blockSide = TransformerPlan.blockSide

    init(_ net: StyleTransformer, _ q: QuantizedTransformer, width: Int, height: Int, stream: DNNLStream) throws {
        self.width = width
        self.height = height
        current.tables = Array(repeating: [], count: q.residual.count * 2 + q.expand.count)
        guard q.input.scale == 1 / 255, q.input.zeroPoint == -128 else {
            throw StylizeError.modelDamaged(path: "transformer", reason: "the int8 input is not the picture's bytes")
        }
        let builder = Builder(net, q, current: current, stream: stream)
        // Input: the picture's bytes, space-to-depth.
        let first = try builder.firstLayer(net.contract[0], width: width, height: height, activation: .none,
                                           quantized: q.contract[0].spaceToDepth(Self.blockSide))
        let trunk = try builder.contract(from: first.layer)
        try builder.residualBlocks(on: trunk)
        let (last, reached) = try builder.expand(from: trunk)
        let result = try builder.output(from: last, width: reached.width, height: reached.height)
        stages = try builder.stages(input: (first.gather, first.padded), reached: reached, result: result, width: width, height: height)
        buffers = [builder.padded, builder.outputs]
        convolutionKernels = builder.kernels
    }

    /// The int8 plan's layers, added in network order. Each StyleNorm is a table made per frame
    /// from its input's histogram and the style's gammas and betas, applied by the next gather.
    private final class Builder: PlanBuilder {
        let net: StyleTransformer
        let q: QuantizedTransformer
        let current: CurrentConditioning

        init(_ net: StyleTransformer, _ q: QuantizedTransformer, current: CurrentConditioning, stream: DNNLStream) {
            (self.net, self.q, self.current) = (net, q, current)
            super.init(stream: stream, type: .u8)
        }

        /// The gather of `source` (through norm table `table`, if any) and the conv that reads it.
        func convolution(_ spec: ConvSpec, _ quantized: QuantizedConv, gather: PaddingGather, from source: DNNLMemory, table: Int?,
                         output: DNNLMemory? = nil, label: String) throws -> ConvolutionLayer {
            let paddedInput = try paddedMemory(gather)
            let p = gather.destinationPhases
            let layer = try ConvolutionLayer(spec, input: paddedInput, inputHeight: gather.outputHeight / p, inputWidth: gather.outputWidth / p,
                                             type: .u8, activation: .none, output: output, outputType: .u8,
                                             sharedOutput: output == nil ? outputs : nil, quantized: quantized, stream: stream)
            let current = current
            add(layer, label: label, normed: table != nil) {
                gather.run(bytes: source.data, to: paddedInput.data, table: table.map { current.tables[$0] })
            }
            return layer
        }

        /// The histogram of a conv's output and the table of norm `index` made from it.
        func normTable(_ layer: ConvolutionLayer, _ norm: QuantizedStyleNorm, index: Int, channels: Int) {
            let output = layer.output, count = layer.outputHeight * layer.outputWidth * channels
            let (stream, current) = (stream, current)
            steps.append(TransformerPlan.Step("\(layer.name): norm table") {
                try stream.wait()
                var counts = [UInt64](repeating: 0, count: channels * 256)
                stylize_channel_histogram(output.data.assumingMemoryBound(to: UInt8.self), count, Int32(channels), &counts)
                let c = current.conditioning!
                current.tables[index] = norm.table(counts: counts, gamma: c.int8Gammas[index], beta: c.int8Betas[index])
            })
        }

        /// The contracting convs after the first; the last one writes the trunk into memory of its own.
        func contract(from first: ConvolutionLayer) throws -> ConvolutionLayer {
            try contract(net, from: first) { index, spec, gather, source, size in
                let isTrunk = index == net.contract.count - 1
                let output = isTrunk ? try DNNLMemory(dnnlMemoryDesc([1, spec.outputChannels, (size.height - 1) / 2 + 1, (size.width - 1) / 2 + 1],
                                                                     dnnl_u8, dnnl_nhwc), engine: engine) : nil
                return try convolution(spec, q.contract[index], gather: gather, from: source.output, table: nil, output: output, label: spec.layerName)
            }
        }

        /// The residual blocks: both convs write one scratch buffer; the add reads conv2's
        /// output through its norm table into the trunk.
        func residualBlocks(on trunkLayer: ConvolutionLayer) throws {
            let trunk = trunkLayer.output
            let (qh, qw) = (trunkLayer.outputHeight, trunkLayer.outputWidth)
            let channels = net.residual[0].0.outputChannels
            let scratch = try DNNLMemory(dnnlMemoryDesc([1, channels, qh, qw], dnnl_u8, dnnl_nhwc), engine: engine)
            for (i, (conv1, conv2)) in net.residual.enumerated() {
                let b = q.residual[i]
                let pad = PaddingGather.reflect(height: qh, width: qw, pad: 1, channels: channels)
                let a = try convolution(conv1, b.conv1, gather: pad, from: trunk, table: nil, output: scratch, label: conv1.layerName)
                normTable(a, b.norm1, index: 2 * i, channels: channels)
                let c = try convolution(conv2, b.conv2, gather: pad, from: scratch, table: 2 * i, output: scratch, label: conv2.layerName)
                normTable(c, b.norm2, index: 2 * i + 1, channels: channels)
                let sums = q.sumTable(i), count = qh * qw * channels, tableIndex = 2 * i + 1, current = current
                steps.append(TransformerPlan.Step("\(conv2.layerName): add") {
                    stylize_add_u8(trunk.data.assumingMemoryBound(to: UInt8.self), scratch.data.assumingMemoryBound(to: UInt8.self), count,
                                   Int32(channels), current.tables[tableIndex], sums)
                })
            }
        }

        /// Expanding: nearest x2 then reflect 1, gathered at full resolution, for the first two;
        /// the last one space-to-depth. Returns the last output and the size it stands for.
        func expand(from trunk: ConvolutionLayer) throws -> (DNNLMemory, (width: Int, height: Int)) {
            let block = PlanStages.blockSide
            var (source, h, w) = (trunk.output, trunk.outputHeight, trunk.outputWidth)
            var table: Int?
            let first = q.residual.count * 2
            for (k, spec) in net.expand.enumerated() {
                let last = k == net.expand.count - 1
                let gather: PaddingGather
                if last {
                    gather = PaddingGather.reflect(height: h, width: w, pad: spec.kernelHeight / 2, channels: spec.inputChannels, destinationPhases: block)
                } else {
                    let (h2, w2) = (2 * h, 2 * w)
                    gather = PaddingGather(rows: (-1..<(h2 + 1)).map { Int32(PaddingGather.reflect($0, h2) / 2) },
                                           columns: (-1..<(w2 + 1)).map { Int32(PaddingGather.reflect($0, w2) / 2) },
                                           channels: spec.inputChannels, sourceWidth: w)
                    (h, w) = (h2, w2)
                }
                let layer = try convolution(last ? spec.spaceToDepth(block) : spec, last ? q.expand[k].spaceToDepth(block) : q.expand[k],
                                            gather: gather, from: source, table: table,
                                            label: spec.layerName + (last ? " (space-to-depth \(block))" : " (x2)"))
                if !last { normTable(layer, q.expandNorms[k], index: first + k, channels: spec.outputChannels) }
                (source, table) = (layer.output, first + k)
            }
            return (source, (w, h))
        }

        /// The last StyleNorm, the sigmoid and its rounding: one table from the last conv's bytes
        /// to floats, made per frame from their histogram.
        func output(from lastOutput: DNNLMemory, width w4: Int, height h4: Int) throws -> DNNLMemory {
            let block = PlanStages.blockSide
            let stored = 3 * block * block, pixels = h4 * w4 / (block * block)
            let result = try DNNLMemory(f32: [1, stored, h4 / block, w4 / block], tag: dnnl_nhwc, engine: engine)
            let lastIndex = q.residual.count * 2 + net.expand.count - 1
            let (stream, current, q) = (stream, current, q)
            steps.append(TransformerPlan.Step("output: norm + sigmoid") {
                try stream.wait()
                var counts = [UInt64](repeating: 0, count: stored * 256)
                stylize_channel_histogram(lastOutput.data.assumingMemoryBound(to: UInt8.self), pixels * stored, Int32(stored), &counts)
                // Stored channel (phase, c) holds channel c of one of the 16 pixels of a block.
                var rgb = [UInt64](repeating: 0, count: 3 * 256)
                for phase in 0..<(block * block) {
                    for i in 0..<(3 * 256) { rgb[i] += counts[phase * 3 * 256 + i] }
                }
                let conditioning = current.conditioning!
                let values = q.outputTable(counts: rgb, gamma: conditioning.int8Gammas[lastIndex], beta: conditioning.int8Betas[lastIndex])
                let table = Array(repeatElement(values, count: block * block).joined())
                stylize_lookup_f32(lastOutput.data.assumingMemoryBound(to: UInt8.self), pixels * stored, Int32(stored), table, result.floats)
            })
            return result
        }
    }

    func apply(_ conditioning: StyleConditioning) {
        current.conditioning = conditioning
    }
}
