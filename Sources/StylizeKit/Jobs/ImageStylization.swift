import Foundation

/// Options for stylizing one picture.
public struct ImageStylizationOptions: Sendable {
    /// Shorter side, in pixels, at which the transformer runs (the brush scale); the result is
    /// scaled back to the picture's own size. nil runs at the picture's own resolution.
    public var processingSize: Int?
    /// 1 is the full style; lower values blend the style vector towards the content's own.
    public var strength: Double = 1
    /// The network's precision (`.auto`: what measures fastest here).
    public var precision: Precision = .auto
    /// Keep the content's colours and take only the luminance from the stylized result
    /// (`RGBImage.keepingColors(of:luma:)`).
    public var preserveColors = false

    /// Options with each value given or left at its default.
    public init(processingSize: Int? = nil, strength: Double = 1, precision: Precision = .auto, preserveColors: Bool = false) {
        self.processingSize = processingSize
        self.strength = strength
        self.precision = precision
        self.preserveColors = preserveColors
    }

    func validate() throws {
        try StyleVector.check(strength: strength)
        if let size = processingSize, size < StyleTransformer.minimumSide {
            throw StylizeError.invalidArgument("size must be at least \(StyleTransformer.minimumSide) pixels, got \(size)")
        }
    }
}

extension Stylizer {
    /// Repaints `content` in `style` on the calling thread, at `options.processingSize` if set,
    /// returning a picture of the content's size. `worker` runs the network (nil: one made for
    /// this call). The worker is a required argument, so that in `async` code the call without
    /// one is always the `async` variant.
    public func stylize(_ content: Picture, style: StyleVector, options: ImageStylizationOptions = .init(),
                        worker: TransformerWorker?) throws -> Picture {
        try options.validate()
        var vector = style
        if options.strength < 1 {
            vector = try style.blended(towards: styleVector(for: content), strength: options.strength)
        }
        return try stylize(content, conditioning: transformer.conditioning(for: vector), processingSize: options.processingSize,
                           preserveColors: options.preserveColors, worker: worker ?? makeWorker(precision: options.precision))
    }

    /// Repaints `content` in `style` off the caller's thread (the transformer runs on oneDNN's
    /// threads either way). A task cancelled before the work starts or while it runs throws
    /// `CancellationError`; a picture is one step, so the step itself is not interrupted.
    public func stylize(_ content: Picture, style: StyleVector, options: ImageStylizationOptions = .init()) async throws -> Picture {
        try await runBlocking { isCancelled in
            if isCancelled() { throw CancellationError() }
            let result = try self.stylize(content, style: style, options: options, worker: nil)
            if isCancelled() { throw CancellationError() }
            return result
        }
    }

    /// Repaints `content` with a style already turned into StyleNorm parameters (the way to go
    /// for many frames of one style), at `processingSize` if set; with `preserveColors`, in
    /// the content's own colours (taken at the content's full resolution, BT.601 luma as in JPEG).
    public func stylize(_ content: Picture, conditioning: StyleConditioning, processingSize: Int?,
                        preserveColors: Bool = false, worker: TransformerWorker) throws -> Picture {
        try stylize(content, conditioning: conditioning, processingSize: processingSize, preserveColors: preserveColors, worker: worker,
                    atNetworkSize: false)
    }

    /// The same, with `atNetworkSize` returning the picture at the size the network painted
    /// (its colours, when kept, those of the content at that size): for a caller that scales
    /// it anyway, such as a preview.
    func stylize(_ content: Picture, conditioning: StyleConditioning, processingSize: Int?, preserveColors: Bool,
                 worker: TransformerWorker, atNetworkSize: Bool) throws -> Picture {
        var input = content
        if let size = processingSize {
            let scale = Double(size) / Double(min(content.width, content.height))
            input = try content.resized(width: max(1, Int((Double(content.width) * scale).rounded())),
                                        height: max(1, Int((Double(content.height) * scale).rounded())))
        }
        let painted = try Picture(worker.stylize(input.rgbImage, conditioning))
        if atNetworkSize { return preserveColors ? Picture(painted.rgbImage.keepingColors(of: input.rgbImage)) : painted }
        let output = try painted.resized(width: content.width, height: content.height)
        return preserveColors ? Picture(output.rgbImage.keepingColors(of: content.rgbImage)) : output
    }
}
