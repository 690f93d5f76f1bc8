import Foundation

/// Both networks, loaded once and shared read-only: the entry point of StylizeKit.
///
///     let stylizer = try Stylizer()
///     let style = try stylizer.styleVector(for: try Picture(contentsOf: styleURL))
///     let worker = try stylizer.makeWorker(precision: .auto)
///     let out = try worker.stylize(content, stylizer.transformer.conditioning(for: style))
public final class Stylizer: Sendable {
    public let predictor: StylePredictor
    public let transformer: StyleTransformer

    /// Loads and checks both models from `modelsDirectory`, `$STYLIZE_MODELS` or the cache.
    public init(modelsDirectory: URL? = nil) throws {
        let engine = try DNNLEngine.shared()
        let predictorModel = try ONNXModel(contentsOf: ModelStore.locate(ModelStore.predictorFile, explicit: modelsDirectory))
        let transformerModel = try ONNXModel(contentsOf: ModelStore.locate(ModelStore.transformerFile, explicit: modelsDirectory))
        predictor = try StylePredictor(model: predictorModel, engine: engine)
        transformer = try StyleTransformer(model: transformerModel, engine: engine)
    }

    /// A transformer worker with its own scratch memory; one per thread.
    public func makeWorker(precision: Precision, threads: Int? = nil) throws -> TransformerWorker {
        try TransformerWorker(transformer, precision: precision, threads: threads)
    }
}
