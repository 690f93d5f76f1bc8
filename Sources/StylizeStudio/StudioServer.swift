import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
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
    /// A live source on this machine (a camera, a screen, a stream) that the page's Live panel
    /// can watch, painted in the page's look; nil: the panel offers the browser's camera only.
    public var liveSource: LiveInput?
    /// The style the page starts the live source in, until one is picked (`stylize live` without
    /// an output passes its own).
    public var liveStyle: String?

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
        let live = LiveSocket(engine: engine, source: configuration.liveSource)
        let app = Application(
            router: router(),
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: LiveSocket.maximumMessageBytes))) { request, _, _ in
                // The Live panel's socket, for pages of this studio only: another site's page in
                // the same browser may not open it.
                guard LiveSocket.accepts(request) else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in try await live.serve(inbound, outbound) }
            },
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
        router.addRoutes(PageRoutes(configuration: configuration, root: engine.root).routes)
        router.addRoutes(MediaRoutes(engine: engine, library: library, previewWidth: configuration.previewWidth).routes, atPath: "/api")
        router.addRoutes(StyleRoutes(library: library).routes, atPath: "/api/styles")
        router.addRoutes(PreviewRoutes(engine: engine, gate: gate).routes, atPath: "/api/preview")
        router.addRoutes(JobRoutes(queue: queue, root: engine.root).routes, atPath: "/api/jobs")
        router.get("/api/live/source") { _, _ in
            try await refusing {
                guard let source = configuration.liveSource else { throw StudioError.notFound("this studio was started with no live source") }
                return try HTTP.json(LiveSocket.SourceDescription(source: source.location, style: configuration.liveStyle))
            }
        }
        return router
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
