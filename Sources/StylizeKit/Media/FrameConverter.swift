import CFFmpeg
import StylizeKernels

/// Converts between decoded frames (any pixel format, any size) and the networks' RGB floats,
/// scaling on the way when asked. Keeps its swscale contexts for the geometries it has seen, so
/// a worker converting frame after frame of one clip builds them once. Not thread-safe: one per
/// worker.
final class FrameConverter {
    private struct Geometry: Hashable {
        var sourceWidth: Int, sourceHeight: Int, sourceFormat: Int32
        var width: Int, height: Int, format: Int32
        /// The YUV side's matrix (AVColorSpace) and range (AVColorRange).
        var matrix: UInt32, range: UInt32
    }

    private var scalers: [Geometry: Scaler] = [:]

    /// A cached scaler; `colors` describes whichever side is YUV (`yuvIsSource`).
    private func scaler(from source: (Int, Int, AVPixelFormat), to destination: (Int, Int, AVPixelFormat),
                        colors: VideoColors, yuvIsSource: Bool) throws -> Scaler {
        let key = Geometry(sourceWidth: source.0, sourceHeight: source.1, sourceFormat: source.2.rawValue,
                           width: destination.0, height: destination.1, format: destination.2.rawValue,
                           matrix: colors.matrix.rawValue, range: colors.range.rawValue)
        if let scaler = scalers[key] { return scaler }
        let scaler = try Scaler(from: source, to: destination)
        // Matrix and range belong to a YUV side; with RGB on both sides (an RGB codec such as
        // libx264rgb or FFV1 in RGB) they would make swscale rescale the range of RGB values.
        if !isRGB(yuvIsSource ? source.2 : destination.2) {
            let details = Scaler.ColorDetails(matrix: colors.matrix, fullRange: colors.fullRange)
            try scaler.setColorDetails(source: yuvIsSource ? details : .init(), destination: yuvIsSource ? .init() : details)
        }
        scalers[key] = scaler
        return scaler
    }

    /// Float planes (G, B, R, as FFmpeg's GBRPF32 orders them), reused: a whole picture's for
    /// frames coming in, a band of rows for frames going out.
    private var inputPlanes = PlaneBuffer(), outputBand = PlaneBuffer()
    /// Rows converted at a time on the way out: the planes stay small whatever the frame size.
    static let bandRows = 16

    deinit {
        inputPlanes.buffer.deallocate()
        outputBand.buffer.deallocate()
    }

    /// The frame as network input at `width` x `height`. swscale converts (and scales) it
    /// straight to planar floats, which keeps every bit of deep sources and takes swscale's
    /// fast paths; a kernel interleaves the planes.
    func rgbImage(from frame: Frame, width: Int, height: Int) throws -> RGBImage {
        let scaler = try scaler(from: (frame.width, frame.height, frame.format), to: (width, height, AV_PIX_FMT_GBRPF32LE),
                                colors: VideoColors(of: frame), yuvIsSource: true)
        let planes = inputPlanes.planes(width: width, height: height), size = width * height
        let (g, b, r) = (planes, planes + size, planes + 2 * size)
        let f = frame.pointer.pointee
        let stride = Int32(width * MemoryLayout<Float>.size)
        try scaler.scale(source: [f.data.0, f.data.1, f.data.2, f.data.3].map { $0.map { UnsafePointer($0) } },
                         sourceStrides: [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3], height: frame.height,
                         destination: [g, b, r, nil].map { $0.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt8.self) } },
                         destinationStrides: [stride, stride, stride, 0])
        let pixels = [Float](unsafeUninitializedCapacity: size * 3) { buffer, count in
            stylize_interleave_rgb(r, g, b, width, Int32(width), Int32(height), buffer.baseAddress!)
            count = size * 3
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// `frame` written into `buffer` (its size and layout, RGBA for one) by one pass of swscale,
    /// with the frame's colours.
    func convert(_ frame: Frame, into buffer: FrameBuffer) throws {
        let scaler = try scaler(from: (frame.width, frame.height, frame.format), to: (buffer.width, buffer.height, buffer.format.ffmpeg),
                                colors: VideoColors(of: frame), yuvIsSource: true)
        let f = frame.pointer.pointee
        let planes = buffer.planes.map { Optional($0.assumingMemoryBound(to: UInt8.self)) }, strides = buffer.strides.map { Int32($0) }
        try scaler.scale(source: [f.data.0, f.data.1, f.data.2, f.data.3].map { $0.map { UnsafePointer($0) } },
                         sourceStrides: [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3], height: frame.height,
                         destination: planes + Array(repeating: nil, count: 4 - planes.count),
                         destinationStrides: strides + Array(repeating: 0, count: 4 - strides.count))
    }

    /// A new frame of `format` at `width` x `height` holding `image` (values clamped to [0, 1]),
    /// through planar floats, so that scaling and colour conversion see full precision. The
    /// picture goes to swscale a band of rows at a time.
    func frame(from image: RGBImage, width: Int, height: Int, format: AVPixelFormat, colors: VideoColors) throws -> Frame {
        let rows = Self.bandRows, size = image.width * rows
        let planes = outputBand.planes(width: image.width, height: rows)
        let (g, b, r) = (planes, planes + size, planes + 2 * size)
        let frame = try Frame(width: width, height: height, format: format)
        let scaler = try scaler(from: (image.width, image.height, AV_PIX_FMT_GBRPF32LE), to: (width, height, format),
                                colors: colors, yuvIsSource: false)
        colors.tag(frame)
        let f = frame.pointer.pointee
        let rowBytes = Int32(image.width * MemoryLayout<Float>.size)
        let source = [g, b, r, nil].map { $0.map { UnsafePointer(UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self)) } }
        for top in stride(from: 0, to: image.height, by: rows) {
            let count = min(rows, image.height - top)
            image.pixels.withUnsafeBufferPointer {
                stylize_planar_rgb($0.baseAddress! + top * image.width * 3, Int32(image.width), Int32(count), r, g, b, image.width)
            }
            try scaler.scale(source: source, sourceStrides: [rowBytes, rowBytes, rowBytes, 0], height: count, sliceY: top,
                             destination: [f.data.0, f.data.1, f.data.2, f.data.3],
                             destinationStrides: [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3])
        }
        return frame
    }
}

/// Three float planes of one size, reallocated only when the size changes.
private struct PlaneBuffer {
    var buffer = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    mutating func planes(width: Int, height: Int) -> UnsafeMutablePointer<Float> {
        if buffer.count != 3 * width * height {
            buffer.deallocate()
            buffer = .allocate(capacity: 3 * width * height)
            buffer.initialize(repeating: 0)
        }
        return buffer.baseAddress!
    }
}

/// How a YUV frame's numbers map to colours: matrix and range, with the same defaults players
/// use when a file does not say (BT.709 from 720 lines up, BT.601 below; limited range).
struct VideoColors: Equatable {
    var matrix: AVColorSpace
    var range: AVColorRange
    var primaries: AVColorPrimaries
    var transfer: AVColorTransferCharacteristic

    var fullRange: Bool? { range == AVCOL_RANGE_JPEG ? true : range == AVCOL_RANGE_MPEG ? false : nil }

    init(matrix: AVColorSpace, range: AVColorRange, primaries: AVColorPrimaries, transfer: AVColorTransferCharacteristic, height: Int) {
        self.matrix = matrix == AVCOL_SPC_UNSPECIFIED || matrix == AVCOL_SPC_RGB ? (height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M) : matrix
        self.range = range
        self.primaries = primaries
        self.transfer = transfer
    }

    init(of frame: Frame) {
        let f = frame.pointer.pointee
        self.init(matrix: f.colorspace, range: f.color_range, primaries: f.color_primaries, transfer: f.color_trc, height: Int(f.height))
    }

    /// The weights of R, G and B in this matrix's luma.
    var lumaWeights: LumaWeights {
        switch matrix {
        case AVCOL_SPC_BT709: return .bt709
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: return .bt2020
        default: return .bt601
        }
    }

    /// Writes these properties into an output frame (the encoder takes them from its context).
    func tag(_ frame: Frame) {
        frame.pointer.pointee.colorspace = matrix
        frame.pointer.pointee.color_range = range == AVCOL_RANGE_UNSPECIFIED ? AVCOL_RANGE_MPEG : range
        frame.pointer.pointee.color_primaries = primaries
        frame.pointer.pointee.color_trc = transfer
    }
}
