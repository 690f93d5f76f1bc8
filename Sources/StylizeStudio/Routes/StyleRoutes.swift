import Hummingbird
import StylizeKit

/// The styles the page offers: the gallery and uploaded pictures, with thumbnails.
struct StyleRoutes {
    let library: StudioLibrary

    var routes: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.get { _, _ in
            try await refusing { try HTTP.json(["styles": library.styles()]) }
        }
        routes.get("/thumbnail") { request, _ in
            try await refusing {
                let id = try HTTP.require("id", in: request)
                return HTTP.picture(try await runBlocking { _ in try library.thumbnail(id) })
            }
        }
        return routes
    }
}
