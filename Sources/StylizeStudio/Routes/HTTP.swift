import Foundation
import HTTPTypes
import Hummingbird

/// What every route answers with and reads: JSON, pictures, files with byte ranges, and the
/// query's and body's values, with a one-line refusal for what is malformed.
enum HTTP {
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
            throw StudioError.badRequest("the request is not valid settings JSON (\(describe(error)))")
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
