import CFFmpeg
import Foundation
import StylizeKernels

/// A still picture decoded by FFmpeg: 16-bit RGB per channel, so 8-bit and 16-bit sources
/// both keep their precision. Grey becomes grey RGB; transparency is composited over white.
public struct Picture: Sendable, Equatable {
    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// `height * width * 3` samples in 0...65535, row by row, R G B per pixel.
    public var samples: [UInt16]

    /// A picture of `width` x `height` pixels from `samples`: 16-bit R, G, B per pixel, row by
    /// row (`width * height * 3` values).
    public init(width: Int, height: Int, samples: [UInt16]) {
        precondition(samples.count == width * height * 3, "sample count does not match \(width)x\(height)x3")
        self.width = width
        self.height = height
        self.samples = samples
    }

    /// Decodes the first picture of any image (or video) file FFmpeg reads: PNG, JPEG, WebP,
    /// BMP, PGM/PPM, TIFF, ...
    public init(contentsOf url: URL) throws {
        // Messages name the file as it was given (relative stays relative).
        let path = url.relativePath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { throw StylizeError.fileNotFound(path) }
        guard !isDirectory.boolValue else { throw StylizeError.unreadable(path: path, reason: "is a directory, not an image") }
        let demuxer = try Demuxer(path: url.path)
        let (index, codec) = try demuxer.bestVideoStream()
        try Self.checkSize(demuxer.stream(index), path: path)
        let decoder = try FrameDecoder(stream: demuxer.stream(index), codec: codec)
        let packet = try Packet(), frame = try Frame()
        var decoded = false
        reading: while true {
            let more = try demuxer.read(into: packet)
            if more && packet.pointer.pointee.stream_index != index { packet.unref(); continue }
            do {
                _ = try decoder.send(more ? packet : nil)
            } catch StylizeError.ffmpeg(_, _, let text) {
                throw StylizeError.unreadable(path: path, reason: "cannot decode the picture: damaged data, or a size beyond the limits (\(text))")
            }
            packet.unref()
            switch try decoder.receive(into: frame) {
            case .produced: decoded = true; break reading
            case .needsInput where more: continue
            case .needsInput, .endOfStream: break reading
            }
        }
        guard decoded, frame.width > 0, frame.height > 0 else {
            throw StylizeError.unreadable(path: path, reason: "no picture could be decoded")
        }
        self = try Self(frame: frame).oriented(exif: Self.exifOrientation(of: frame))
    }

    /// The EXIF orientation (1-8) that FFmpeg's JPEG and WebP decoders read from the file into
    /// the frame's metadata (`Orientation`); 1, upright as stored, when there is none.
    static func exifOrientation(of frame: Frame) -> Int {
        guard let entry = av_dict_get(frame.pointer.pointee.metadata, "Orientation", nil, 0),
              let value = Int(String(cString: entry.pointee.value).trimmingCharacters(in: .whitespaces)),
              (1...8).contains(value) else { return 1 }
        return value
    }

    /// The picture as a viewer shows it when its EXIF orientation is `orientation`: 2 mirrored,
    /// 3 turned half round, 4 flipped, 5 transposed, 6 turned a quarter clockwise, 7
    /// transversed, 8 turned a quarter anticlockwise (the TIFF/EXIF 2.3 definitions).
    public func oriented(exif orientation: Int) -> Picture {
        guard (2...8).contains(orientation) else { return self }
        let swapsSides = orientation >= 5
        let (w, h) = swapsSides ? (height, width) : (width, height)
        let (lastX, lastY) = (width - 1, height - 1)
        var out = [UInt16](repeating: 0, count: samples.count)
        for y in 0..<h {
            for x in 0..<w {
                // The stored pixel shown at (x, y).
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (lastX - x, y)
                case 3: (sx, sy) = (lastX - x, lastY - y)
                case 4: (sx, sy) = (x, lastY - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, lastY - x)
                case 7: (sx, sy) = (lastX - y, lastY - x)
                default: (sx, sy) = (lastX - y, x)
                }
                let s = (sy * width + sx) * 3, d = (y * w + x) * 3
                out[d] = samples[s]; out[d + 1] = samples[s + 1]; out[d + 2] = samples[s + 2]
            }
        }
        return Picture(width: w, height: h, samples: out)
    }

    /// Largest side and area accepted, so a file that declares an absurd size is refused before
    /// anything is allocated for it.
    public static let maximumSide = 16384
    /// Largest area accepted, in pixels.
    public static let maximumPixels = 150_000_000

    /// Refuses a stream that declares a size beyond the limits.
    static func checkSize(_ stream: UnsafeMutablePointer<AVStream>, path: String) throws {
        let w = Int(stream.pointee.codecpar.pointee.width), h = Int(stream.pointee.codecpar.pointee.height)
        if w > maximumSide || h > maximumSide || w * h > maximumPixels {
            throw StylizeError.unreadable(path: path, reason: "too large (\(w)x\(h); at most \(maximumSide) pixels a side and \(maximumPixels / 1_000_000) megapixels)")
        }
    }

    /// Converts a decoded frame of any pixel format. Sources of up to 8 bits go through
    /// swscale's exact 8-bit RGBA path and are widened here (v * 257, so v / 255 survives
    /// exactly); deeper sources go to 16-bit RGBA directly.
    init(frame: Frame) throws {
        let (width, height) = (frame.width, frame.height)
        let depth = av_pix_fmt_desc_get(frame.format).map { Int($0.pointee.comp.0.depth) } ?? 8
        let deep = depth > 8
        // RGBA64LE is native-endian on x86-64 and arm64.
        let target = deep ? AV_PIX_FMT_RGBA64LE : AV_PIX_FMT_RGBA
        let bytesPerSample = deep ? 2 : 1
        let scaler = try Scaler(from: (width, height, frame.format), to: (width, height, target))
        var rgba = [UInt8](repeating: 0, count: width * height * 4 * bytesPerSample)
        try rgba.withUnsafeMutableBufferPointer { out in
            let f = frame.pointer.pointee
            try scaler.scale(source: [f.data.0, f.data.1, f.data.2, f.data.3].map { $0.map { UnsafePointer($0) } },
                             sourceStrides: [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3], height: height,
                             destination: [out.baseAddress, nil, nil, nil],
                             destinationStrides: [Int32(width * 4 * bytesPerSample), 0, 0, 0])
        }
        // Over white: v * a + 65535 * (1 - a), in 16-bit units, rounded.
        let samples = [UInt16](unsafeUninitializedCapacity: width * height * 3) { out, count in
            stylize_samples_over_white(rgba, deep ? 1 : 0, width * height, out.baseAddress)
            count = width * height * 3
        }
        self.init(width: width, height: height, samples: samples)
    }

    /// From network values in [0, 1] (clamped), rounded to 16 bits.
    public init(_ image: RGBImage) {
        let count = image.pixels.count
        self.init(width: image.width, height: image.height,
                  samples: [UInt16](unsafeUninitializedCapacity: count) { out, initialized in
                      stylize_samples_from_unit(image.pixels, count, out.baseAddress)
                      initialized = count
                  })
    }

    /// The network's view: values in [0, 1].
    public var rgbImage: RGBImage {
        RGBImage(width: width, height: height, pixels: [Float](unsafeUninitializedCapacity: samples.count) { out, initialized in
            stylize_unit_from_samples(samples, samples.count, out.baseAddress)
            initialized = samples.count
        })
    }

    /// The picture turned clockwise by `degrees` (a multiple of 90): a clip's frame as a player
    /// shows it, turned by `MediaInfo.rotation`.
    public func rotated(clockwise degrees: Int) -> Picture {
        let (w, h, out) = turnedPixels(samples, width: width, height: height, clockwise: degrees)
        return Picture(width: w, height: h, samples: out)
    }

    /// The rectangle at (`x`, `y`) of `width` x `height`.
    public func cropped(x: Int, y: Int, width: Int, height: Int) -> Picture {
        precondition(x >= 0 && y >= 0 && x + width <= self.width && y + height <= self.height, "crop outside the picture")
        var out = [UInt16]()
        out.reserveCapacity(width * height * 3)
        for row in y..<(y + height) {
            let start = (row * self.width + x) * 3
            out.append(contentsOf: samples[start..<(start + width * 3)])
        }
        return Picture(width: width, height: height, samples: out)
    }

    /// The largest centred square, as Magenta crops style images.
    public var centreSquare: Picture {
        let side = min(width, height)
        return cropped(x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
    }

    /// Resampled by swscale to `width` x `height` (area averaging when shrinking, bicubic when growing).
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Picture {
        guard newWidth > 0, newHeight > 0 else { throw StylizeError.invalidArgument("cannot resize to \(newWidth)x\(newHeight)") }
        if newWidth == width && newHeight == height { return self }
        let scaler = try Scaler(from: (width, height, AV_PIX_FMT_RGB48LE), to: (newWidth, newHeight, AV_PIX_FMT_RGB48LE))
        var out = [UInt16](repeating: 0, count: newWidth * newHeight * 3)
        let source = samples.map { $0.littleEndian }
        try source.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in
                try scaler.scale(source: [src.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil, nil],
                                 sourceStrides: [Int32(width * 6), 0, 0, 0], height: height,
                                 destination: [dst.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil, nil],
                                 destinationStrides: [Int32(newWidth * 6), 0, 0, 0])
            }
        }
        return Picture(width: newWidth, height: newHeight, samples: out.map { UInt16(littleEndian: $0) })
    }

    /// Formats `write(to:)` can produce, chosen by the file extension.
    public enum OutputFormat: String, CaseIterable, Sendable {
        /// PNG, lossless.
        case png
        /// JPEG.
        case jpeg
        /// Windows bitmap.
        case bmp
        /// Netpbm colour.
        case ppm
        /// Netpbm grey.
        case pgm
        /// TIFF.
        case tiff
        /// WebP.
        case webp

        /// Extensions that name each format.
        public static let extensions: [String: OutputFormat] = [
            "png": .png, "jpg": .jpeg, "jpeg": .jpeg, "bmp": .bmp, "ppm": .ppm, "pgm": .pgm,
            "tif": .tiff, "tiff": .tiff, "webp": .webp,
        ]

        /// The format `url`'s extension names; throws for an extension with no picture format.
        public init(for url: URL) throws {
            guard let format = Self.extensions[url.pathExtension.lowercased()] else {
                throw StylizeError.invalidArgument("\(url.relativePath): cannot write .\(url.pathExtension) pictures; use .png, .jpg, .bmp, .ppm, .pgm, .tiff or .webp")
            }
            self = format
        }

        /// FFmpeg encoder and the pixel format it is fed.
        var encoder: (name: String, format: AVPixelFormat) {
            switch self {
            case .png: return ("png", AV_PIX_FMT_RGB24)
            case .jpeg: return ("mjpeg", AV_PIX_FMT_YUVJ420P)
            case .bmp: return ("bmp", AV_PIX_FMT_BGR24)
            case .ppm: return ("ppm", AV_PIX_FMT_RGB24)
            case .pgm: return ("pgm", AV_PIX_FMT_GRAY8)  // grey: the luma of the result
            case .tiff: return ("tiff", AV_PIX_FMT_RGB24)
            case .webp: return ("libwebp", AV_PIX_FMT_YUV420P)
            }
        }
    }

    /// Encodes as an 8-bit picture in the format the extension names (`encoded(as:)`) and
    /// writes it atomically; an existing file is replaced only with `overwrite`.
    public func write(to url: URL, overwrite: Bool) throws {
        let format = try OutputFormat(for: url)
        try OutputFile.checkWritable(url, overwrite: overwrite)
        try OutputFile.write(encoded(as: format), to: url, overwrite: overwrite)
    }

    /// The picture as a frame of native-endian 16-bit RGB, for FFmpeg's filters.
    func rgb48Frame() throws -> Frame {
        let frame = try Frame(width: width, height: height, format: AV_PIX_FMT_RGB48LE)
        let stride = Int(frame.pointer.pointee.linesize.0)
        let base = UnsafeMutableRawPointer(frame.pointer.pointee.data.0!)
        samples.withUnsafeBytes { samples in
            for y in 0..<height {
                (base + y * stride).copyMemory(from: samples.baseAddress! + y * width * 6, byteCount: width * 6)
            }
        }
        return frame
    }

    /// The picture as a file of `format` would hold it (JPEG at quality 2 of FFmpeg's 1-31,
    /// WebP at quality 90).
    public func encoded(as format: OutputFormat) throws -> Data {
        let rgb = try Frame(width: width, height: height, format: AV_PIX_FMT_RGB24)
        let stride = Int(rgb.pointer.pointee.linesize.0)
        let base = rgb.pointer.pointee.data.0!
        samples.withUnsafeBufferPointer { samples in
            for y in 0..<height {
                stylize_bytes_from_samples(samples.baseAddress! + y * width * 3, width * 3, base + y * stride)
            }
        }
        let (codec, pixelFormat) = format.encoder
        var frame = rgb
        if pixelFormat != AV_PIX_FMT_RGB24 {
            frame = try Frame(width: width, height: height, format: pixelFormat)
            let scaler = try Scaler(from: (width, height, AV_PIX_FMT_RGB24), to: (width, height, pixelFormat))
            let s = rgb.pointer.pointee, d = frame.pointer.pointee
            try scaler.scale(source: [UnsafePointer(s.data.0), nil, nil, nil], sourceStrides: [s.linesize.0, 0, 0, 0], height: height,
                             destination: [d.data.0, d.data.1, d.data.2, d.data.3],
                             destinationStrides: [d.linesize.0, d.linesize.1, d.linesize.2, d.linesize.3])
        }
        return try Self.encode(frame, codec: codec, format: pixelFormat) { context in
            switch format {
            case .jpeg:
                context.pointee.flags |= AV_CODEC_FLAG_QSCALE
                context.pointee.global_quality = 2 * FF_QP2LAMBDA
                context.pointee.color_range = AVCOL_RANGE_JPEG
            case .webp:
                context.pointee.global_quality = 90 * FF_QP2LAMBDA
                context.pointee.flags |= AV_CODEC_FLAG_QSCALE
            default:
                break
            }
        }
    }

    /// One frame through an image encoder; the packet is a complete file.
    private static func encode(_ frame: Frame, codec: String, format: AVPixelFormat,
                               configure: (UnsafeMutablePointer<AVCodecContext>) -> Void = { _ in }) throws -> Data {
        let encoder = try FrameEncoder(name: codec, width: frame.width, height: frame.height, format: format,
                                       timeBase: AVRational(num: 1, den: 25), configure: configure)
        frame.pointer.pointee.pts = 0
        frame.pointer.pointee.quality = encoder.context.pointee.global_quality
        _ = try encoder.send(frame)
        _ = try encoder.send(nil)
        let packet = try Packet()
        var data = Data()
        while try encoder.receive(into: packet) == .produced {
            data.append(packet.pointer.pointee.data, count: Int(packet.pointer.pointee.size))
            packet.unref()
        }
        return data
    }
}
