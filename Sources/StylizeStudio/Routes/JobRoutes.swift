import Foundation
import Hummingbird
import ServiceLifecycle
import StylizeKit

/// Renders: queueing one, the list, its events as they happen (server-sent events), clearing
/// the finished ones, cancelling one, and its output (with byte ranges, for the video element).
struct JobRoutes {
    let queue: RenderQueue
    let root: StudioRoot

    var routes: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.post { request, context in
            try await refusing {
                let settings = try await HTTP.decode(request, context: context)
                var response = try HTTP.json(try await queue.submit(settings).view)
                response.status = .created
                return response
            }
        }
        routes.get { _, _ in
            try await refusing { try HTTP.json(["jobs": try await queue.jobs().map(\.view)]) }
        }
        routes.get("/events") { _, _ in try await events() }
        routes.post("/clear") { _, _ in
            try await refusing { try HTTP.json(["cleared": try await queue.clearFinished()]) }
        }
        routes.post("/:id/cancel") { _, context in
            try await refusing {
                let id = try HTTP.jobID(context)
                return try HTTP.json(try await queue.cancel(id).view)
            }
        }
        routes.get("/:id/output") { request, context in
            try await refusing { try await output(request, context: context) }
        }
        return routes
    }

    /// Every change to a render as an event, with a comment now and then to keep the stream open.
    private func events() async throws -> Response {
        let stream = try await queue.subscribe()
        let queue = queue
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

    /// A finished render's file; `?download` asks the browser to save it.
    private func output(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let job = try await queue.job(HTTP.jobID(context))
        guard job.state == .done else { throw StudioError.notFound("render \(job.id ?? 0) is \(job.state.rawValue); its output is not ready") }
        let url = try root.resolve(job.output)
        var response = try HTTP.file(url, range: request.headers[.range])
        if request.uri.queryParameters.get("download") != nil {
            response.headers[.contentDisposition] = "attachment; filename=\"\(url.lastPathComponent)\""
        }
        return response
    }
}
