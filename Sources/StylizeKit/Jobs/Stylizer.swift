import Foundation

/// Both networks, loaded once and shared read-only: the entry point of StylizeKit.
///
///     let stylizer = try await Stylizer.load()
///     let style = try stylizer.styleVector(for: StyleSpec(parsing: "starry-night"))
///     let photo = try Picture(contentsOf: URL(fileURLWithPath: "photo.jpg"))
///     let result = try await stylizer.stylize(photo, style: style)
///     try result.write(to: URL(fileURLWithPath: "photo-starry.png"), overwrite: false)
///
/// Clips and frame sequences go through `VideoStylizer` and `FrameSequenceStylizer`.
public final class Stylizer: Sendable {
    /// The style predictor: a picture to a style vector.
    public let predictor: StylePredictor
    /// The transformer: a frame and a style to a stylized frame.
    public let transformer: StyleTransformer

    /// Loads and checks both models from `modelsDirectory` when given (which must exist and hold
    /// them), else from `$STYLIZE_MODELS`, else from the cache (`ModelStore.cacheDirectory`).
    public init(modelsDirectory: URL? = nil) throws {
        let engine = try DNNLEngine.shared()
        let predictorModel = try ONNXModel(contentsOf: ModelStore.locate(ModelStore.predictorFile, explicit: modelsDirectory))
        let transformerModel = try ONNXModel(contentsOf: ModelStore.locate(ModelStore.transformerFile, explicit: modelsDirectory))
        predictor = StylePredictor(model: predictorModel, engine: engine)
        transformer = try StyleTransformer(model: transformerModel, engine: engine)
    }

    /// `init(modelsDirectory:)` off the caller's thread: reading and checking the models takes
    /// a moment that async code should not block on.
    public static func load(modelsDirectory: URL? = nil) async throws -> Stylizer {
        try await runBlocking { _ in try Stylizer(modelsDirectory: modelsDirectory) }
    }

    /// A transformer worker with its own scratch memory; one per thread.
    public func makeWorker(precision: Precision, threads: Int? = nil) throws -> TransformerWorker {
        try TransformerWorker(transformer, precision: precision, threads: threads)
    }
}
