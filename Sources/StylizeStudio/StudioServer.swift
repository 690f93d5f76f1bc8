import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import StylizeKit

/// `stylize studio`: a web page on this machine to open a clip, pick and mix styles, scrub a
/// live preview, set keyframes and render, over StylizeKit. Nothing leaves the machine: the page
/// and its scripts are compiled into the binary and the server listens on 127.0.0.1 unless told
/// otherwise.
public struct StudioConfiguration: Sendable {
    /// The folder whose files the studio may open; it keeps its own in `stylize-studio/` there.
    public var root: URL
    public var host = "127.0.0.1"
    /// 0 picks a free port.
    public var port = 8080
    public var modelsDirectory: URL?
    public var maxUploadBytes = 512 << 20
    public var previewWidth = 640

    public init(root: URL) {
        self.root = root
    }
}

public struct StudioServer: Sendable {
    let configuration: StudioConfiguration
    let engine: PreviewEngine
    let queue: RenderQueue
    let library: StudioLibrary
    let gate = LatestOnly()

    /// Loads the models and opens (or makes) the job database under the root.
    public init(_ configuration: StudioConfiguration) throws {
        self.configuration = configuration
        let root = try StudioRoot(configuration.root)
        try FileManager.default.createDirectory(at: root.renders, withIntermediateDirectories: true)
        engine = PreviewEngine(stylizer: try Stylizer(modelsDirectory: configuration.modelsDirectory), root: root)
        queue = try RenderQueue(engine: engine)
        library = StudioLibrary(root: root, maxUploadBytes: configuration.maxUploadBytes)
    }

    /// Serves until SIGINT or SIGTERM; `onRunning` gets the address once it listens (the real
    /// port when `port` is 0). A render that is running when the server stops goes back to the
    /// queue and runs again after the next start. A shutdown that takes longer than
    /// `shutdownDeadline` (a request that will not end) is cancelled.
    public func run(onRunning: @escaping @Sendable (_ url: String) async -> Void) async throws {
        let host = configuration.host
        let logger = {
            var logger = Logger(label: "stylize-studio")
            logger.logLevel = .warning
            return logger
        }()
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "stylize-studio"),
            services: [QueueService(queue: queue)],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                await onRunning("http://\(host.contains(":") ? "[\(host)]" : host):\(port)/")
            },
            logger: logger
        )
        var services = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        services.maximumGracefulShutdownDuration = Self.shutdownDeadline
        try await ServiceGroup(configuration: services).run()
    }

    /// How long a graceful shutdown may take before what is still running is cancelled.
    static let shutdownDeadline = Duration.seconds(10)

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: NoStoreMiddleware())
        router.get("/") { _, _ in Self.asset(PackageResources.index_html, type: "text/html; charset=utf-8") }
        router.get("/static/studio.js") { _, _ in Self.asset(PackageResources.studio_js, type: "text/javascript; charset=utf-8") }
        router.get("/static/studio.css") { _, _ in Self.asset(PackageResources.studio_css, type: "text/css; charset=utf-8") }

        router.get("/api/info") { _, _ in
            try Self.json(Info(root: engine.root.url.path, previewWidth: configuration.previewWidth, maxUploadBytes: configuration.maxUploadBytes,
                               easings: Easing.allCases.map(\.rawValue), styleSizeRange: [StylePredictor.sideRange.lowerBound, StylePredictor.sideRange.upperBound]))
        }
        router.get("/api/files") { request, _ in
            try await refusing { try Self.json(library.list(request.uri.queryParameters.get("dir") ?? "")) }
        }
        router.get("/api/media") { request, _ in
            try await refusing {
                let path = try Self.require("path", in: request)
                let fps = try Self.frameRate(in: request)
                let info = try await runBlocking { _ in try engine.info(path, frameRate: fps) }
                return try Self.json(MediaView(path: path, info: info))
            }
        }
        router.get("/api/frame") { request, _ in
            try await refusing {
                let path = try Self.require("path", in: request)
                let time = try Self.number("time", in: request) ?? 0
                let width = Int(try Self.number("width", in: request) ?? Double(configuration.previewWidth))
                guard (16...3840).contains(width) else { throw StudioError.badRequest("width must be from 16 to 3840, got \(width)") }
                let fps = try Self.frameRate(in: request)
                let jpeg = try await runBlocking { _ in
                    try PreviewEngine.scaled(engine.sourceFrame(path, at: time, frameRate: fps), width: width).encoded(as: .jpeg)
                }
                return Self.picture(jpeg)
            }
        }
        router.get("/api/styles") { _, _ in
            try await refusing { try Self.json(["styles": library.styles()]) }
        }
        router.get("/api/styles/thumbnail") { request, _ in
            try await refusing {
                let id = try Self.require("id", in: request)
                return Self.picture(try await runBlocking { _ in try library.thumbnail(id) })
            }
        }
        router.post("/api/upload") { request, context in
            try await refusing { try await upload(request, context: context) }
        }
        router.post("/api/preview") { request, context in
            try await refusing {
                let settings = try await Self.decode(request, context: context)
                let started = Date()
                guard let jpeg = try await gate.run({
                    try await runBlocking { _ in try engine.preview(settings).encoded(as: .jpeg) }
                }) else {
                    return Response(status: .noContent)
                }
                var response = Self.picture(jpeg)
                response.headers[HTTPField.Name("X-Preview-Milliseconds")!] = String(Int((Date().timeIntervalSince(started) * 1000).rounded()))
                return response
            }
        }
        router.post("/api/jobs") { request, context in
            try await refusing {
                let settings = try await Self.decode(request, context: context)
                var response = try Self.json(try await queue.submit(settings).view)
                response.status = .created
                return response
            }
        }
        router.get("/api/jobs") { _, _ in
            try await refusing { try Self.json(["jobs": try await queue.jobs().map(\.view)]) }
        }
        router.get("/api/jobs/events") { _, _ in
            let stream = try await queue.subscribe()
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody { writer in
                let encoder = JSONEncoder()
                // Ctrl-C starts a graceful shutdown, which waits for every response to end.
                try await withGracefulShutdownHandler {
                    for await job in stream {
                        guard let job else {
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            continue
                        }
                        let data = try encoder.encode(job)
                        try await writer.write(ByteBuffer(string: "event: job\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                    }
                } onGracefulShutdown: {
                    Task { await queue.endStreams() }
                }
                try await writer.finish(nil)
            })
        }
        router.post("/api/jobs/clear") { _, _ in
            try await refusing { try Self.json(["cleared": try await queue.clearFinished()]) }
        }
        router.post("/api/jobs/:id/cancel") { _, context in
            try await refusing {
                let id = try Self.jobID(context)
                return try Self.json(try await queue.cancel(id).view)
            }
        }
        router.get("/api/jobs/:id/output") { request, context in
            try await refusing {
                let job = try await queue.job(Self.jobID(context))
                guard job.state == .done else { throw StudioError.notFound("render \(job.id ?? 0) is \(job.state.rawValue); its output is not ready") }
                let url = try engine.root.resolve(job.output)
                var response = try Self.file(url, range: request.headers[.range])
                if request.uri.queryParameters.get("download") != nil {
                    response.headers[.contentDisposition] = "attachment; filename=\"\(url.lastPathComponent)\""
                }
                return response
            }
        }
        return router
    }

    /// Streams the body to a hidden file in the uploads folder, refusing it once it passes the
    /// size limit, then hands it to `StudioLibrary.keep`.
    private func upload(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let name = try Self.require("name", in: request)
        guard let purpose = StudioLibrary.Purpose(rawValue: request.uri.queryParameters.get("purpose") ?? "input") else {
            throw StudioError.badRequest("purpose must be input or style")
        }
        let folder = engine.root.uploads
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
        var response = try Self.json(["path": stored.path, "kind": stored.kind.rawValue])
        response.status = .created
        return response
    }

    struct Info: Codable {
        var root: String
        var previewWidth: Int
        var maxUploadBytes: Int
        var easings: [String]
        var styleSizeRange: [Int]
    }

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

    static func json<T: Encodable>(_ value: T) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }

    static func picture(_ jpeg: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A file, streamed in pieces of 1 MiB; with a `Range: bytes=...` header (a video element
    /// seeking), only that part, as 206.
    static func file(_ url: URL, range: String?) throws -> Response {
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        var headers: HTTPFields = [.contentType: mediaType(url), .acceptRanges: "bytes"]
        var status = HTTPResponse.Status.ok
        var part = 0..<size
        if let range {
            guard let asked = byteRange(range, size: size) else {
                return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(size)"])
            }
            part = asked
            status = .partialContent
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(size)"
        }
        let sent = part
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: sent.count) { writer in
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(sent.lowerBound))
            var left = sent.count
            while left > 0, let chunk = try handle.read(upToCount: min(left, 1 << 20)), !chunk.isEmpty {
                try await writer.write(ByteBuffer(bytes: chunk))
                left -= chunk.count
            }
            try await writer.finish(nil)
        })
    }

    /// The bytes a single `bytes=START-END`, `bytes=START-` or `bytes=-LAST` range names in a
    /// file of `size` bytes; nil when it is malformed or lies outside the file.
    static func byteRange(_ header: String, size: Int) -> Range<Int>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let bounds = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard bounds.count == 2 else { return nil }
        if bounds[0].isEmpty {
            guard let last = Int(bounds[1]), last > 0, size > 0 else { return nil }
            return max(0, size - last)..<size
        }
        guard let start = Int(bounds[0]), start >= 0, start < size else { return nil }
        if bounds[1].isEmpty { return start..<size }
        guard let end = Int(bounds[1]), end >= start else { return nil }
        return start..<min(end + 1, size)
    }

    static func mediaType(_ url: URL) -> String {
        switch url.pathExtension.lowercased() {
        case "mp4": return "video/mp4"
        case "webm": return "video/webm"
        case "mkv": return "video/x-matroska"
        case "mov": return "video/quicktime"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        default: return "application/octet-stream"
        }
    }

    static func require(_ name: String, in request: Request) throws -> String {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else { throw StudioError.badRequest("the query has no \(name)") }
        return value
    }

    static func number(_ name: String, in request: Request) throws -> Double? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Double(text), value.isFinite else { throw StudioError.badRequest("\(name) must be a number, got \(text)") }
        return value
    }

    /// A frame folder's rate from the query's `fps`, if given.
    static func frameRate(in request: Request) throws -> Double? {
        guard let fps = try number("fps", in: request) else { return nil }
        guard fps > 0 && fps <= 1000 else { throw StudioError.badRequest("fps must be above 0 and at most 1000, got \(fps)") }
        return fps
    }

    static func jobID(_ context: BasicRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self) else { throw StudioError.badRequest("a render id is a whole number") }
        return id
    }

    /// The settings a preview or render request carries, as JSON of at most 1 MiB.
    static func decode(_ request: Request, context: BasicRequestContext) async throws -> StudioSettings {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        do {
            return try JSONDecoder().decode(StudioSettings.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw StudioError.badRequest("the request is not valid settings JSON (\(Self.describe(error)))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Answers are made for this moment (previews, job lists): the browser must not reuse them.
struct NoStoreMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// Runs the render queue beside the server, and on shutdown puts the running render back in
/// the queue and ends the event streams, so that the server can stop.
struct QueueService: Service {
    let queue: RenderQueue

    func run() async throws {
        await queue.start()
        try? await gracefulShutdown()
        await queue.stop()
    }
}
