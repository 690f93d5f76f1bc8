import CFFmpeg
import Foundation

/// How a `FrameSession` stylizes.
public struct FrameSessionOptions: Sendable {
    /// The network's precision (`.auto`: what measures fastest on this CPU).
    public var precision: Precision = .auto
    /// Threads one frame runs on; nil: every core.
    public var threads: Int?
    /// How strongly each frame is steadied towards the previous output moved along the optical
    /// flow (as `JobOptions.stabilization`); 0 stylizes every frame on its own.
    public var stabilization: Double = 0.7
    /// The rate that places a timeline's `#N` keyframes (frame N at N / rate seconds).
    public var frameRate: Double = 30
    /// The content's own style vector, for strengths below 1; nil: the first frame's.
    public var identity: StyleVector?

    /// The defaults: the fastest precision, every core, stabilized at 0.7, keyframes at 30 frames a
    /// second, and the first frame's own vector.
    public init() {}
}

/// Stylizes frames held in memory, one after another: a camera's, a game's, an editor's.
///
/// Made once for a style (or a timeline) and a frame size; it keeps a transformer worker, the
/// colour conversions and the stabilizer's memory of the previous frame, so that each frame
/// costs what the network costs. Frames take the same path as a clip's frames in
/// `VideoStylizer`: 8-bit 4:2:0 frames go through the network's own colour conversion straight
/// into a 4:2:0 output, other layouts through FFmpeg's scaler, and the stabilizer blends each
/// output in its own layout. Calls are serialized (the session is `Sendable`; one frame runs at
/// a time).
///
///     let session = try FrameSession(stylizer: stylizer, style: style, width: 640, height: 360)
///     try session.stylize(cameraFrame, into: outputFrame)
public final class FrameSession: @unchecked Sendable {
    /// The size of the frames the session takes and gives.
    public let width: Int, height: Int
    private let stylizer: Stylizer
    /// Where each frame's style comes from: a timeline (by the frame's time) or a live style
    /// (its look of the moment).
    private enum Styling {
        case timeline(StyleTimeline)
        case live(LiveStyle)
    }
    private let styling: Styling
    private let options: FrameSessionOptions
    // Guarded by `lock`.
    private let lock = NSLock()
    private let worker: TransformerWorker
    private let converter = FrameConverter()
    private let lumaReader = LumaReader()
    private let stabilizer: TemporalStabilizer?
    private var schedule: ConditioningSchedule?
    /// The content's own vector, for a live style's strengths below 1.
    private var identity: StyleVector?
    /// Planar RGB to the caller's RGBA or BGRA, made on first use.
    private var repacker: (format: FramePixelFormat, scaler: Scaler)?

    /// A session for `width` x `height` frames, each with the style `timeline` gives at the
    /// frame's time. Throws when the size is too small for the network or the precision is not
    /// available here.
    public convenience init(stylizer: Stylizer, timeline: StyleTimeline, width: Int, height: Int, options: FrameSessionOptions = .init()) throws {
        try self.init(stylizer: stylizer, styling: .timeline(timeline), width: width, height: height, options: options)
    }

    /// A session whose style changes while it runs (a camera's, with a slider beside it): each
    /// frame takes `liveStyle`'s look of the moment, and changes fade in as `LiveStyle` says.
    public convenience init(stylizer: Stylizer, liveStyle: LiveStyle, width: Int, height: Int, options: FrameSessionOptions = .init()) throws {
        try self.init(stylizer: stylizer, styling: .live(liveStyle), width: width, height: height, options: options)
    }

    private init(stylizer: Stylizer, styling: Styling, width: Int, height: Int, options: FrameSessionOptions) throws {
        try FramePixelFormat.checkSize(width: width, height: height)
        guard min(width, height) >= StyleTransformer.minimumSide else {
            throw StylizeError.invalidArgument("frames of \(width)x\(height) are too small; both sides need at least \(StyleTransformer.minimumSide) pixels")
        }
        (self.stylizer, self.styling, self.width, self.height, self.options) = (stylizer, styling, width, height, options)
        worker = try stylizer.makeWorker(precision: options.precision, threads: options.threads)
        stabilizer = options.stabilization > 0 ? TemporalStabilizer(strength: options.stabilization) : nil
    }

    /// A session for one style at `strength` (0...1: 0 leaves frames as they are).
    public convenience init(stylizer: Stylizer, style: StyleVector, strength: Double = 1, width: Int, height: Int,
                            options: FrameSessionOptions = .init()) throws {
        try self.init(stylizer: stylizer, timeline: StyleTimeline(constant: style, strength: strength), width: width, height: height,
                      options: options)
    }

    /// Stylizes `input` into `output` (both of the session's size; any two layouts), with the
    /// style the timeline gives at `seconds`. With the stabilizer on, the frame is steadied
    /// towards the one before; call `reset()` where the stream jumps (a cut, a seek).
    public func stylize(_ input: FrameBuffer, into output: FrameBuffer, at seconds: Double = 0) throws {
        for buffer in [input, output] where (buffer.width, buffer.height) != (width, height) {
            throw StylizeError.invalidArgument("a \(buffer.width)x\(buffer.height) frame given to a session for \(width)x\(height)")
        }
        try lock.withLock {
            let source = try Frame(viewing: input)
            let conditioning = try conditioning(for: source, at: seconds)
            let result = try stylized(source, conditioning, as: output.format)
            try deliver(result, into: output)
        }
    }

    /// Forgets the previous frame: the next one is not steadied towards it.
    public func reset() {
        lock.withLock { stabilizer?.reset() }
    }

    /// Stylizes each frame of `frames` in turn (at its `seconds`), as a stream of stylized
    /// frames in `format` (the input's own when nil). The work runs off the caller's thread;
    /// the stream ends when `frames` ends, throws what a frame throws, and stops when the task
    /// iterating it is cancelled.
    public func stylized<Frames: AsyncSequence & Sendable>(_ frames: Frames, as format: FramePixelFormat? = nil)
        -> AsyncThrowingStream<PixelFrame, Error> where Frames.Element == PixelFrame {
        let (stream, continuation) = AsyncThrowingStream<PixelFrame, Error>.makeStream(bufferingPolicy: .bufferingOldest(2))
        let work = Task {
            do {
                for try await frame in frames {
                    try Task.checkCancellation()
                    var input = frame
                    var output = try PixelFrame(format: format ?? frame.format, width: frame.width, height: frame.height,
                                                seconds: frame.seconds)
                    try input.withBuffer { source in try output.withBuffer { try self.stylize(source, into: $0, at: frame.seconds) } }
                    continuation.yield(output)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in work.cancel() }
        return stream
    }

    // MARK: - One frame

    /// Writes `result` into the caller's `output`: copied when the layouts agree, else repacked
    /// by FFmpeg's scaler (planar RGB to RGBA or BGRA: the same values, alpha opaque).
    private func deliver(_ result: Frame, into output: FrameBuffer) throws {
        guard result.format != output.format.ffmpeg else { return result.copy(into: output) }
        if repacker?.format != output.format {
            repacker = (output.format, try Scaler(from: (width, height, result.format), to: (width, height, output.format.ffmpeg)))
        }
        try repacker!.scaler.scale(source: result.planes.map { $0.map { UnsafePointer($0) } }, sourceStrides: result.strides, height: height,
                                   destination: [output.planes[0].assumingMemoryBound(to: UInt8.self), nil, nil, nil],
                                   destinationStrides: [Int32(output.strides[0]), 0, 0, 0])
    }

    /// The network's parameters for `frame` at `seconds`. A strength below 1 blends with the
    /// content's own vector, which is the first frame's (the first that needs it, for a live
    /// style) unless the options give one.
    private func conditioning(for frame: Frame, at seconds: Double) throws -> StyleConditioning {
        switch styling {
        case .timeline(let timeline):
            return try schedule(first: frame, timeline).conditioning(at: seconds)
        case .live(let style):
            if identity == nil && style.needsIdentity { identity = try options.identity ?? stylizer.styleVector(for: Picture(frame: frame)) }
            return try style.conditioning(transformer: stylizer.transformer, identity: identity)
        }
    }

    /// The timeline's schedule, made on the first frame.
    private func schedule(first frame: Frame, _ timeline: StyleTimeline) throws -> ConditioningSchedule {
        if let schedule { return schedule }
        let identity = timeline.needsIdentity ? try options.identity ?? stylizer.styleVector(for: Picture(frame: frame)) : nil
        let made = ConditioningSchedule(transformer: stylizer.transformer, timeline: timeline, frameRate: options.frameRate,
                                        identity: identity)
        schedule = made
        return made
    }

    /// `source` through the network, as a new frame in `format`, steadied when the stabilizer
    /// is on. 4:2:0 and NV12 are steadied in their own values, as a clip's frames are. RGBA and
    /// BGRA are steadied as planar RGB (the blend would take their alpha for a colour) and come
    /// back in that layout, for `deliver` to repack.
    private func stylized(_ source: Frame, _ conditioning: StyleConditioning, as format: FramePixelFormat) throws -> Frame {
        let colors = VideoColors(of: source)
        let motion = try stabilizer.map { _ in
            let (luma, scale) = try lumaReader.luma(of: source, width: width, height: height)
            return TemporalStabilizer.Motion(luma: luma, scale: scale, width: width, height: height)
        }
        if let conversion = YUV420Conversion(of: source),
           let outputConversion = YUV420Conversion(format: format.ffmpeg, colors: colors, chromaLocation: AVCHROMA_LOC_UNSPECIFIED) {
            let result = try Frame(width: width, height: height, format: format.ffmpeg)
            colors.tag(result)
            try worker.stylize(source, conversion, conditioning, into: result, outputConversion)
            if let stabilizer, let motion { stabilizer.stabilize(motion, frame: result) }
            return result
        }
        let image = try converter.rgbImage(from: source, width: width, height: height)
        let stylized = try worker.stylize(consume image, conditioning)
        let steadied = stabilizer != nil && (format == .rgba || format == .bgra) ? AV_PIX_FMT_GBRP : format.ffmpeg
        let result = try converter.frame(from: stylized, width: width, height: height, format: steadied, colors: colors)
        if let stabilizer, let motion { stabilizer.stabilize(motion, frame: result) }
        return result
    }
}

extension Frame {
    /// A frame over `buffer`'s memory (not copied, not freed with the frame), tagged as
    /// limited-range YUV in the matrix players assume for its height.
    convenience init(viewing buffer: FrameBuffer) throws {
        try self.init()
        let f = pointer
        f.pointee.width = Int32(buffer.width)
        f.pointee.height = Int32(buffer.height)
        f.pointee.format = buffer.format.ffmpeg.rawValue
        withUnsafeMutableBytes(of: &f.pointee.data) { data in
            withUnsafeMutableBytes(of: &f.pointee.linesize) { linesize in
                for (index, (plane, stride)) in zip(buffer.planes, buffer.strides).enumerated() {
                    data.storeBytes(of: plane.assumingMemoryBound(to: UInt8.self), toByteOffset: index * MemoryLayout<UnsafeMutablePointer<UInt8>?>.stride,
                                    as: UnsafeMutablePointer<UInt8>?.self)
                    linesize.storeBytes(of: Int32(stride), toByteOffset: index * MemoryLayout<Int32>.stride, as: Int32.self)
                }
            }
        }
        if buffer.format == .yuv420p || buffer.format == .nv12 {
            VideoColors(matrix: AVCOL_SPC_UNSPECIFIED, range: AVCOL_RANGE_MPEG, primaries: AVCOL_PRI_UNSPECIFIED,
                        transfer: AVCOL_TRC_UNSPECIFIED, height: buffer.height).tag(self)
        }
    }

    /// Copies this frame's planes into `buffer` (the same layout and size).
    func copy(into buffer: FrameBuffer) {
        let (planes, strides) = (self.planes, self.strides)
        for (index, size) in buffer.format.planeSizes(width: buffer.width, height: buffer.height).enumerated() {
            av_image_copy_plane(buffer.planes[index].assumingMemoryBound(to: UInt8.self), Int32(buffer.strides[index]), planes[index],
                                strides[index], Int32(size.rowBytes), Int32(size.rows))
        }
    }
}
