import Hummingbird
import StylizeKit

/// The page itself (compiled into the binary) and what it asks first: the root, the limits
/// and the choices the controls offer.
struct PageRoutes {
    let configuration: StudioConfiguration
    let root: StudioRoot

    struct Info: Codable {
        var root: String
        var previewWidth: Int
        var maxUploadBytes: Int
        var easings: [String]
        var styleSizeRange: [Int]
    }

    var routes: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.get("/") { _, _ in HTTP.asset(PackageResources.index_html, type: "text/html; charset=utf-8") }
        routes.get("/static/studio.js") { _, _ in HTTP.asset(PackageResources.studio_js, type: "text/javascript; charset=utf-8") }
        routes.get("/static/studio.css") { _, _ in HTTP.asset(PackageResources.studio_css, type: "text/css; charset=utf-8") }
        routes.get("/api/info") { [configuration, root] _, _ in
            try HTTP.json(Info(root: root.url.path, previewWidth: configuration.previewWidth, maxUploadBytes: configuration.maxUploadBytes,
                               easings: Easing.allCases.map(\.rawValue), styleSizeRange: [StylePredictor.sideRange.lowerBound, StylePredictor.sideRange.upperBound]))
        }
        return routes
    }
}
