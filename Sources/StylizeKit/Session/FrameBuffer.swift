import CFFmpeg

/// The pixel layouts a `FrameSession` reads and writes: 8-bit RGBA and BGRA (one plane, four
/// bytes a pixel, alpha kept as it comes and written opaque), and 8-bit 4:2:0, planar (Y, U, V) or
/// NV12 (Y, then U and V interleaved), chroma at half width and height rounded up.
public enum FramePixelFormat: Sendable, CaseIterable {
    /// 8-bit R, G, B, A in one plane.
    case rgba
    /// 8-bit B, G, R, A in one plane.
    case bgra
    /// 8-bit Y, U and V planes, U and V at half width and height.
    case yuv420p
    /// 8-bit Y plane, then U and V interleaved at half width and height.
    case nv12

    var ffmpeg: AVPixelFormat {
        switch self {
        case .rgba: AV_PIX_FMT_RGBA
        case .bgra: AV_PIX_FMT_BGRA
        case .yuv420p: AV_PIX_FMT_YUV420P
        case .nv12: AV_PIX_FMT_NV12
        }
    }

    /// Throws unless each side is 1 to 16384 pixels.
    static func checkSize(width: Int, height: Int) throws {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw StylizeError.invalidArgument("a frame of \(width)x\(height): each side must be 1 to 16384 pixels")
        }
    }

    /// The bytes of one row and the rows of each plane of a `width` x `height` frame.
    public func planeSizes(width: Int, height: Int) -> [(rowBytes: Int, rows: Int)] {
        let (chromaWidth, chromaHeight) = ((width + 1) / 2, (height + 1) / 2)
        switch self {
        case .rgba, .bgra: return [(4 * width, height)]
        case .yuv420p: return [(width, height), (chromaWidth, chromaHeight), (chromaWidth, chromaHeight)]
        case .nv12: return [(width, height), (2 * chromaWidth, chromaHeight)]
        }
    }
}

/// One frame in memory the caller owns (a camera's, a game's, an editor's): a view, not a copy.
/// The memory must stay valid, and unchanged by others, while a call that takes the buffer runs.
public struct FrameBuffer {
    /// The layout of the planes.
    public let format: FramePixelFormat
    /// The frame's size in pixels.
    public let width: Int, height: Int
    /// The start of each plane (one for RGBA and BGRA, three for 4:2:0, two for NV12).
    public let planes: [UnsafeMutableRawPointer]
    /// The bytes from one row of each plane to the next (at least the row's own bytes).
    public let strides: [Int]

    /// A view of `planes`; throws `StylizeError.invalidArgument` when the sizes, the plane
    /// count or a stride do not fit `format`.
    public init(format: FramePixelFormat, width: Int, height: Int, planes: [UnsafeMutableRawPointer], strides: [Int]) throws {
        try FramePixelFormat.checkSize(width: width, height: height)
        let sizes = format.planeSizes(width: width, height: height)
        guard planes.count == sizes.count, strides.count == sizes.count else {
            throw StylizeError.invalidArgument("a \(format) frame has \(sizes.count) plane(s); given \(planes.count) planes and \(strides.count) strides")
        }
        for (index, (stride, size)) in zip(strides, sizes).enumerated() where stride < size.rowBytes {
            throw StylizeError.invalidArgument("plane \(index) of a \(width)x\(height) \(format) frame needs rows of \(size.rowBytes) bytes; its stride is \(stride)")
        }
        (self.format, self.width, self.height, self.planes, self.strides) = (format, width, height, planes, strides)
    }
}

/// A frame that owns its memory, planes packed one after another without padding: what the
/// async transform of `FrameSession` takes and gives.
public struct PixelFrame: Sendable {
    /// The layout of the planes.
    public let format: FramePixelFormat
    /// The frame's size in pixels.
    public let width: Int, height: Int
    /// The planes, one after another, each row `rowBytes` of its plane long.
    public private(set) var bytes: [UInt8]
    /// Where the stream the frame belongs to is, in seconds: a timeline's style is taken there.
    public var seconds: Double

    /// A frame of zeros, to be written into.
    public init(format: FramePixelFormat, width: Int, height: Int, seconds: Double = 0) throws {
        try FramePixelFormat.checkSize(width: width, height: height)
        let count = format.planeSizes(width: width, height: height).reduce(0) { $0 + $1.rowBytes * $1.rows }
        try self.init(format: format, width: width, height: height, bytes: [UInt8](repeating: 0, count: count), seconds: seconds)
    }

    /// A frame holding `bytes` (the planes packed, as `bytes` is laid out); throws when the
    /// count does not fit the format and size.
    public init(format: FramePixelFormat, width: Int, height: Int, bytes: [UInt8], seconds: Double = 0) throws {
        let needed = format.planeSizes(width: width, height: height).reduce(0) { $0 + $1.rowBytes * $1.rows }
        guard bytes.count == needed else {
            throw StylizeError.invalidArgument("a \(width)x\(height) \(format) frame is \(needed) bytes; given \(bytes.count)")
        }
        (self.format, self.width, self.height, self.bytes, self.seconds) = (format, width, height, bytes, seconds)
    }

    /// Runs `body` with a view of this frame's memory.
    public mutating func withBuffer<Result>(_ body: (FrameBuffer) throws -> Result) throws -> Result {
        let (format, width, height) = (self.format, self.width, self.height)
        let sizes = format.planeSizes(width: width, height: height)
        return try bytes.withUnsafeMutableBytes { memory in
            var offset = 0
            var planes: [UnsafeMutableRawPointer] = []
            for size in sizes {
                planes.append(memory.baseAddress! + offset)
                offset += size.rowBytes * size.rows
            }
            return try body(FrameBuffer(format: format, width: width, height: height, planes: planes, strides: sizes.map(\.rowBytes)))
        }
    }
}
