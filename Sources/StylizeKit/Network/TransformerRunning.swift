import Foundation
import StylizeKernels

/// A transformer laid out for one frame size, in one precision (`TransformerPlan` for the float
/// precisions, `QuantizedTransformerPlan` for int8): what a frame runs through, and how a style
/// enters it.
protocol TransformerRunning: AnyObject {
    var width: Int { get }
    var height: Int { get }
    /// The kernel oneDNN chose for each conv, in network order.
    var convolutionKernels: [String] { get }
    var stages: PlanStages { get }
    /// Makes the plan compute with `conditioning`'s gammas and betas from the next frame on.
    func apply(_ conditioning: StyleConditioning)
}

/// The path of a frame through a plan: the first gather (a picture reflect-padded to a
/// multiple of 4, then by the first conv's half kernel, into the space-to-depth layout), the
/// steps, and the output (f32 values, space-to-depth) cropped back to the picture's size.
struct PlanStages {
    let stream: DNNLStream
    let input: PaddingGather
    let inputPadded: DNNLMemory
    /// The first conv's input type: f32, bf16, or bytes (255 times the picture's values).
    let inputType: DNNLDataType
    let steps: [TransformerPlan.Step]
    let result: DNNLMemory
    let output: PaddingGather

    /// Pixels per side of one stored pixel of the 9x9 convs' space-to-depth form.
    static let blockSide = 4

    /// The first gather: reflect-padded to a multiple of 4 at the bottom and right, then by `pad`
    /// on every side, in one pass with composed index tables, straight into space-to-depth.
    static func inputGather(width: Int, height: Int, pad: Int) -> PaddingGather {
        let h4 = (height + 3) / 4 * 4, w4 = (width + 3) / 4 * 4
        let rows4 = (0..<h4).map { PaddingGather.reflect($0, height) }
        let columns4 = (0..<w4).map { PaddingGather.reflect($0, width) }
        return PaddingGather(rows: (-pad..<(h4 + pad)).map { Int32(rows4[PaddingGather.reflect($0, h4)]) },
                             columns: (-pad..<(w4 + pad)).map { Int32(columns4[PaddingGather.reflect($0, w4)]) },
                             channels: 3, sourceWidth: width, destinationPhases: blockSide)
    }

    /// The last gather: back from space-to-depth, cropped to the picture's size.
    static func outputGather(width: Int, height: Int) -> PaddingGather {
        PaddingGather(rows: (0..<height).map(Int32.init), columns: (0..<width).map(Int32.init), channels: 3,
                      sourceWidth: (width + 3) / 4 * 4, sourcePhases: blockSide)
    }
}

extension TransformerRunning {
    /// Runs the network on `image` (of the plan's size). With `profile`, each step is waited for
    /// and reported with its milliseconds.
    func run(_ image: consuming RGBImage, _ conditioning: StyleConditioning,
             profile: ((_ step: String, _ flops: Double, _ milliseconds: Double) -> Void)? = nil) throws -> RGBImage {
        apply(conditioning)
        let stages = self.stages
        var clock = profile.map { _ in DispatchTime.now().uptimeNanoseconds }
        func lap(_ name: String, flops: Double = 0) throws {
            guard let start = clock else { return }
            try stages.stream.wait()
            let now = DispatchTime.now().uptimeNanoseconds
            profile?(name, flops, Double(now - start) / 1e6)
            clock = now
        }
        image.pixels.withUnsafeBufferPointer {
            stages.input.run(from: $0.baseAddress!, to: stages.inputPadded.data, type: stages.inputType,
                             factor: stages.inputType == .u8 ? 255 : 1)
        }
        // Read: the output array below can take its memory.
        _ = consume image
        try lap("input: pad")
        for step in stages.steps {
            try step.body()
            try lap(step.name, flops: step.flops)
        }
        try stages.stream.wait()
        // Every value is written by the gather: no need to clear the array first.
        let count = width * height * 3
        let pixels = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            stages.output.run(from: stages.result.data, to: UnsafeMutableRawPointer(buffer.baseAddress!), type: .f32)
            initialized = count
        }
        try lap("output: crop")
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Runs the network on a 4:2:0 frame of the plan's size and writes its output into another:
    /// the first gather converts to RGB as it pads, and the output is converted to YUV as it is
    /// cropped.
    func run(_ frame: Frame, _ conversion: YUV420Conversion, _ conditioning: StyleConditioning,
             into output: Frame, _ outputConversion: YUV420Conversion) throws {
        apply(conditioning)
        let stages = self.stages, block = PlanStages.blockSide
        stages.input.run(from: conversion.picture(of: frame), conversion: conversion, to: stages.inputPadded.data, type: stages.inputType)
        for step in stages.steps { try step.body() }
        try stages.stream.wait()
        var picture = outputConversion.picture(of: output)
        stylize_yuv420_from_phases(stages.result.floats, Int32(block), Int32((width + block - 1) / block), outputConversion.toYUV, &picture)
    }
}
