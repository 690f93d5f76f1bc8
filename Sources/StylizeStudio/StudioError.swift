import Foundation
import Hummingbird
import StylizeKit

/// A refusal the page can show: an HTTP status and one line, sent as `{"error": "..."}`.
struct StudioError: Error, HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String

    static func badRequest(_ message: String) -> StudioError { .init(status: .badRequest, message: message) }
    static func forbidden(_ message: String) -> StudioError { .init(status: .forbidden, message: message) }
    static func notFound(_ message: String) -> StudioError { .init(status: .notFound, message: message) }
    static func conflict(_ message: String) -> StudioError { .init(status: .conflict, message: message) }
    static func tooLarge(_ message: String) -> StudioError { .init(status: .contentTooLarge, message: message) }
    static func unsupportedMedia(_ message: String) -> StudioError { .init(status: .unsupportedMediaType, message: message) }
    static func setup(_ message: String) -> StudioError { .init(status: .internalServerError, message: message) }

    var description: String { message }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(["error": message])
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// What a request's failure looks like to the page: StylizeKit's refusals of bad input are
    /// 400s with their own message, a missing file a 404, anything else a 500 with its text.
    static func from(_ error: Error) -> StudioError {
        switch error {
        case let error as StudioError: return error
        case StylizeError.fileNotFound(let path): return .notFound("\(path) does not exist")
        case let error as StylizeError: return .badRequest(error.errorDescription ?? "\(error)")
        case is DecodingError: return .badRequest("the request is not the JSON this endpoint takes")
        default: return .init(status: .internalServerError, message: "\(error)")
        }
    }
}

/// Runs a handler's work and turns whatever it throws into a `StudioError`.
func refusing<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw StudioError.from(error) }
}
