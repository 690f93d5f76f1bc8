import Foundation
import HTTPTypes
import Hummingbird
import StylizeKit

/// Previews: one frame painted as a render would paint it. While a slider moves only the
/// newest request is painted; the others get 204.
struct PreviewRoutes {
    let engine: PreviewEngine
    let gate: LatestOnly

    var routes: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.post { request, context in
            try await refusing {
                let settings = try await HTTP.decode(request, context: context)
                let started = Date()
                guard let jpeg = try await gate.run({
                    try await runBlocking { _ in try engine.preview(settings).encoded(as: .jpeg) }
                }) else {
                    return Response(status: .noContent)
                }
                var response = HTTP.picture(jpeg)
                response.headers[HTTPField.Name("X-Preview-Milliseconds")!] = String(Int((Date().timeIntervalSince(started) * 1000).rounded()))
                return response
            }
        }
        return routes
    }
}
