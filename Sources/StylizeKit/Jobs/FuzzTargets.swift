import Foundation

/// Entry points for the fuzzers (`Sources/stylize-fuzz`, `scripts/fuzz`): each feeds untrusted
/// bytes to a parser the way the tool does. A parser may throw; it must never crash.
package enum FuzzTargets {
    /// The parsers, by name.
    package static let names = ["style-spec", "keyframe", "keyframes-json", "vector-json", "onnx"]

    /// Runs parser `name` on `data`; returns false for an unknown name.
    @discardableResult
    package static func run(_ name: String, _ data: Data) -> Bool {
        let text = String(decoding: data, as: UTF8.self)
        switch name {
        case "style-spec":
            _ = try? StyleSpec(parsing: text).description
        case "keyframe":
            _ = try? KeyframeSpec(parsing: text)
            _ = try? parseSeconds(text)
        case "keyframes-json":
            if let (keys, ease) = try? KeyframeFile.parse(data, path: "/fuzz/keys.json"), let first = keys.first {
                // Exercise the timeline with the parsed times too.
                let vector = StyleVector(unchecked: [Float](repeating: 0, count: StyleVector.dimension))
                let timeline = try? StyleTimeline(keys: keys.map { .init(time: $0.time, vector: vector, strength: $0.strength) }, easing: ease ?? .linear)
                _ = timeline?.value(at: first.time.seconds(frameRate: 25) + 0.5, frameRate: 25)
            }
        case "vector-json":
            _ = try? StyleVectorFile.parse(data, path: "/fuzz/vector.json")
        case "onnx":
            if let model = try? ONNXModel(data: data, path: "/fuzz/model.onnx"), let engine = try? DNNLEngine.shared() {
                // The transformer's weight reading (no oneDNN primitive is built here).
                if let transformer = try? StyleTransformer(model: model, engine: engine) {
                    _ = transformer.conditioning(for: StyleVector(unchecked: [Float](repeating: 0.5, count: StyleVector.dimension)))
                }
            }
        default:
            return false
        }
        return true
    }
}
