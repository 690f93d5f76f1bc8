import Foundation
import Hummingbird
import StylizeKit

/// The files under the root: listing folders, what a clip, a picture or a frame folder is,
/// a frame as stored, and uploads.
struct MediaRoutes {
    let engine: PreviewEngine
    let library: StudioLibrary
    let previewWidth: Int
    var root: StudioRoot { engine.root }

    struct MediaView: Codable {
        var path: String
        var kind: String
        var width, height: Int
        var duration, frameRate: Double
        var frames: Int
        var hasAudio: Bool

        init(path: String, info: MediaInfo) {
            self.path = path
            kind = info.kind.rawValue
            width = info.width
            height = info.height
            duration = info.duration
            frameRate = info.frameRate
            frames = info.frames
            hasAudio = info.hasAudio
        }
    }

    var routes: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.get("/files") { request, _ in
            try await refusing { try HTTP.json(library.list(request.uri.queryParameters.get("dir") ?? "")) }
        }
        routes.get("/media") { request, _ in
            try await refusing {
                let path = try HTTP.require("path", in: request)
                let fps = try HTTP.frameRate(in: request)
                let info = try await runBlocking { _ in try engine.info(path, frameRate: fps) }
                return try HTTP.json(MediaView(path: path, info: info))
            }
        }
        routes.get("/frame") { request, _ in
            try await refusing {
                let path = try HTTP.require("path", in: request)
                let time = try HTTP.number("time", in: request) ?? 0
                let width = Int(try HTTP.number("width", in: request) ?? Double(previewWidth))
                guard (16...3840).contains(width) else { throw StudioError.badRequest("width must be from 16 to 3840, got \(width)") }
                let fps = try HTTP.frameRate(in: request)
                let jpeg = try await runBlocking { _ in
                    try PreviewEngine.scaled(engine.sourceFrame(path, at: time, frameRate: fps), width: width).encoded(as: .jpeg)
                }
                return HTTP.picture(jpeg)
            }
        }
        routes.post("/upload") { request, context in
            try await refusing { try await upload(request, context: context) }
        }
        return routes
    }

    /// Streams the body to a hidden file in the uploads folder, refusing it once it passes the
    /// size limit, then hands it to `StudioLibrary.keep`.
    func upload(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let name = try HTTP.require("name", in: request)
        guard let purpose = StudioLibrary.Purpose(rawValue: request.uri.queryParameters.get("purpose") ?? "input") else {
            throw StudioError.badRequest("purpose must be input or style")
        }
        let folder = root.uploads
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".upload-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw StudioError.setup("cannot write to \(folder.path)")
        }
        var kept = false
        defer { if !kept { try? FileManager.default.removeItem(at: temporary) } }
        let handle = try FileHandle(forWritingTo: temporary)
        var written = 0
        do {
            defer { try? handle.close() }
            for try await buffer in request.body {
                written += buffer.readableBytes
                if written > library.maxUploadBytes {
                    throw StudioError.tooLarge("\(name) is larger than the upload limit of \(library.maxUploadBytes >> 20) MiB (stylize studio --max-upload-mb)")
                }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
        }
        guard written > 0 else { throw StudioError.badRequest("the upload is empty") }
        kept = true
        let stored = try await runBlocking { _ in try library.keep(temporary, name: name, purpose: purpose) }
        var response = try HTTP.json(["path": stored.path, "kind": stored.kind.rawValue])
        response.status = .created
        return response
    }
}
