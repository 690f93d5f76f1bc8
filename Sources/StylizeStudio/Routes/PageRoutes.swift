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

    /// The page's ES modules, by file name; `main.js` imports the others.
    static let modules: [String: [UInt8]] = [
        "state.js": PackageResources.state_js, "helpers.js": PackageResources.helpers_js, "requests.js": PackageResources.requests_js,
        "files.js": PackageResources.files_js, "input.js": PackageResources.input_js, "styles.js": PackageResources.styles_js,
        "look.js": PackageResources.look_js, "preview.js": PackageResources.preview_js, "keyframes.js": PackageResources.keyframes_js,
        "uploads.js": PackageResources.uploads_js, "jobs.js": PackageResources.jobs_js, "live.js": PackageResources.live_js,
        "mask.js": PackageResources.mask_js, "main.js": PackageResources.main_js,
    ]

    var routes: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        routes.get("/") { _, _ in HTTP.asset(PackageResources.index_html, type: "text/html; charset=utf-8") }
        routes.get("/static/:module") { _, context in
            guard let name = context.parameters.get("module"), let module = Self.modules[name] else { throw HTTPError(.notFound) }
            return HTTP.asset(module, type: "text/javascript; charset=utf-8")
        }
        routes.get("/static/studio.css") { _, _ in HTTP.asset(PackageResources.studio_css, type: "text/css; charset=utf-8") }
        routes.get("/api/info") { [configuration, root] _, _ in
            try HTTP.json(Info(root: root.url.path, previewWidth: configuration.previewWidth, maxUploadBytes: configuration.maxUploadBytes,
                               easings: Easing.allCases.map(\.rawValue), styleSizeRange: [StylePredictor.sideRange.lowerBound, StylePredictor.sideRange.upperBound]))
        }
        return routes
    }
}
