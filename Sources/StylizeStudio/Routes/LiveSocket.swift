import Foundation
import HTTPTypes
import HummingbirdWebSocket
import NIOCore
import StylizeKit

/// The Live panel's WebSocket, /api/live: the page's camera frames in, stylized frames out, one
/// `FrameSession` per connection so that each frame is steadied towards the one before.
///
/// A text message sets the look, as JSON (`LiveLook`); the reply is `{"ok": true}` or
/// `{"error": "..."}`. A binary message is a frame: width and height as 32-bit little-endian
/// numbers, then its RGBA rows. It is answered with the stylized frame in the same layout,
/// after a third number, the milliseconds the server took. The page sends a frame only when
/// the one before has come back, so the newest frame always wins and nothing queues.
///
/// When the studio has a live source of its own (a camera on the server), a frame of width and
/// height 0 asks for that source's newest frame: the answer is as above, with the source's
/// frame, RGBA, after the stylized one. The source opens at the first such request and closes
/// with the socket.
struct LiveSocket {
    let engine: PreviewEngine
    let source: LiveInput?

    /// What `GET /api/live/source` tells the page of the studio's own live source.
    struct SourceDescription: Encodable {
        var source: String
        /// The style it starts in, when one was given.
        var style: String?
    }

    /// The look the page asks for.
    struct LiveLook: Decodable {
        var style: String
        var strength: Double?
        var styleSize: Int?
        var stabilize: Double?
        var precision: Precision?
    }

    /// The largest frame taken, in pixels (a 1920x1080 camera).
    static let maximumPixels = 1920 * 1080
    /// The largest message: such a frame with its header.
    static let maximumMessageBytes = maximumPixels * 4 + 16

    /// Whether an upgrade request is for this socket, from a page of this server (or from no
    /// page at all): its Origin, when it has one, names the host it was sent to.
    static func accepts(_ request: HTTPRequest) -> Bool {
        guard request.path?.split(separator: "?").first == "/api/live" else { return false }
        guard let origin = request.headerFields[.origin] else { return true }
        guard let host = request.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        var connection = Connection(engine: engine, source: source)
        defer { connection.close() }
        for try await message in inbound.messages(maxSize: Self.maximumMessageBytes) {
            switch message {
            case .text(let text):
                do {
                    try await connection.set(try JSONDecoder().decode(LiveLook.self, from: Data(text.utf8)))
                    try await outbound.write(.text(#"{"ok":true}"#))
                } catch {
                    try await outbound.write(.text(Self.reply(to: error)))
                }
            case .binary(let buffer):
                do {
                    try await outbound.write(.binary(ByteBuffer(bytes: try await connection.stylize(buffer))))
                } catch {
                    try await outbound.write(.text(Self.reply(to: error)))
                }
            }
        }
    }

    /// `{"error": "..."}` for what went wrong with a message; the socket stays open.
    static func reply(to error: Error) -> String {
        let words = switch error {
        case let error as StudioError: error.message
        case let error as StylizeError: error.localizedDescription
        case is DecodingError: "the look is not the JSON the page sends"
        default: "\(error)"
        }
        return String(decoding: (try? JSONEncoder().encode(["error": words])) ?? Data(), as: UTF8.self)
    }

    /// One page's camera, or the studio's source for one page: its look, and a session for its
    /// frame size.
    struct Connection {
        let engine: PreviewEngine
        let source: LiveInput?
        private var look: LiveLook?
        private var style: LiveStyle?
        private var session: FrameSession?
        /// The studio's source, open while this page watches it.
        private var frames: LiveFrames?

        init(engine: PreviewEngine, source: LiveInput?) { (self.engine, self.source) = (engine, source) }

        /// Closes the studio's source, if this page opened it.
        func close() { frames?.stop() }

        /// Takes a new look: the style fades in on the session's next frames; a new
        /// stabilization or precision starts a new session.
        mutating func set(_ new: LiveLook) async throws {
            let engine = self.engine
            let vector = try await runBlocking { _ in
                try engine.vector(ResolvedStyle(new.style, root: engine.root).spec, styleSize: new.styleSize ?? StylePredictor.inputSize)
            }
            if let style {
                try style.change(to: vector, strength: new.strength ?? 1)
            } else {
                style = try LiveStyle(vector, strength: new.strength ?? 1, crossfade: 0.3)
            }
            if new.stabilize != look?.stabilize || new.precision != look?.precision { session = nil }
            look = new
        }

        /// The stylized frame for a frame message, or an empty frame (0x0) when no look was set.
        /// A 0x0 message asks for the studio's source: its newest frame stylized, then as it came.
        mutating func stylize(_ buffer: ByteBuffer) async throws -> [UInt8] {
            var buffer = buffer
            guard let width = buffer.readInteger(endianness: .little, as: UInt32.self).map(Int.init),
                  let height = buffer.readInteger(endianness: .little, as: UInt32.self).map(Int.init) else {
                throw StudioError.badRequest("a frame is its width and height, then its RGBA rows")
            }
            if width == 0, height == 0, buffer.readableBytes == 0 {
                let input = try await sourceFrame()
                return try await stylize(input) + input.bytes
            }
            guard width > 0, height > 0, width * height <= LiveSocket.maximumPixels, buffer.readableBytes == width * height * 4 else {
                throw StudioError.badRequest("a frame is its width and height, then its RGBA rows")
            }
            return try await stylize(try PixelFrame(format: .rgba, width: width, height: height, bytes: buffer.readBytes(length: buffer.readableBytes)!))
        }

        /// The studio source's newest frame, opening the source at the first call.
        private mutating func sourceFrame() async throws -> PixelFrame {
            guard let source else { throw StudioError.notFound("this studio was started with no live source") }
            if frames == nil {
                frames = try await runBlocking { _ in try LiveFrames(source) }
            }
            let frames = frames!
            return try await runBlocking { _ in
                guard let frame = try frames.newest(waiting: max(source.timeout, 1)) else {
                    throw StudioError.badRequest("no frame came from \(source.location) in \(max(source.timeout, 1)) s")
                }
                return frame
            }
        }

        /// `input` stylized in the look: width, height and the server's milliseconds as 32-bit
        /// little-endian numbers, then the RGBA rows; an empty frame (0x0) when no look was set.
        private mutating func stylize(_ input: PixelFrame) async throws -> [UInt8] {
            let (width, height) = (input.width, input.height)
            guard let style, let look else { return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
            if session.map({ ($0.width, $0.height) != (width, height) }) ?? true {
                var options = FrameSessionOptions()
                options.stabilization = look.stabilize ?? 0.7
                options.precision = look.precision ?? .auto
                // Making a session builds the network's plan: off the server's threads, as a frame is.
                let stylizer = engine.stylizer
                session = try await runBlocking { [options] _ in
                    try FrameSession(stylizer: stylizer, liveStyle: style, width: width, height: height, options: options)
                }
            }
            let session = session!
            let started = Date()
            let output = try await runBlocking { _ in
                var input = input
                var output = try PixelFrame(format: .rgba, width: width, height: height)
                try input.withBuffer { source in try output.withBuffer { try session.stylize(source, into: $0) } }
                return output
            }
            let milliseconds = UInt32(min(Date().timeIntervalSince(started) * 1000, Double(UInt32.max)))
            var answer: [UInt8] = []
            answer.reserveCapacity(12 + width * height * 4)
            for number in [UInt32(width), UInt32(height), milliseconds] { withUnsafeBytes(of: number.littleEndian) { answer += $0 } }
            answer += output.bytes
            return answer
        }
    }
}
