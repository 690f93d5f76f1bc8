import CFFmpeg
import Foundation

/// What the read stage hands a worker: a frame, its place, and what to paint it with.
struct StylizeWork: Sendable {
    /// A frame's luma and the one before it, at the network's size divided by `scale`, from
    /// which a worker measures the motion the stabilizer follows.
    struct Luma: Sendable {
        var current: LumaPlane
        var previous: LumaPlane?
        var scale: Int
    }

    var frame: Frame
    var pts: Int64
    /// The frame's position among those read.
    var index: Int
    var conditioning: StyleConditioning
    /// Stylized only for the stabilizer's state (before a piece's first written frame).
    var warmup: Bool
    /// Present when the job is stabilized.
    var luma: Luma?
    /// Present when a mask decides where the style goes.
    var regions: RegionWork? = nil
}

/// One worker's state: the network's scratch memory, a converter, and optical flow when the
/// job is stabilized. Each is used on its worker's queue only.
struct ClipWorker {
    let network: TransformerWorker
    let converter: FrameConverter
    let flow: OpticalFlow?
    /// Present when a mask decides where the style goes.
    var masks: MaskMaker? = nil
}

/// What a worker gives the in-order stages: a finished frame, or one still to be stabilized,
/// or a packet passed through in its place.
enum StylizedItem: Sendable {
    /// A frame ready for the encoder.
    case frame(Frame)
    /// A packet of another stream, copied as it is.
    case packet(Packet, stream: Int32)
    /// A stylized frame still in RGB, with what the stabilizer needs of the network's input,
    /// for the in-order stage (temporal stabilization) before it becomes a `frame`; the stage
    /// takes the image and blends it in place.
    case image(PaintedPicture, pts: Int64, aspect: AVRational)
    /// A frame before a piece's first one: it goes through the stabilizer and is not written.
    case warmup(PaintedPicture)
    /// A stylized frame already in the encoder's pixel format, with what the stabilizer needs of
    /// the network's input: the in-order stage blends it in place and writes it, unless it comes
    /// before a piece's first frame (`written` false).
    case encoded(input: TemporalStabilizer.Motion, frame: Frame, written: Bool)
    /// A frame whose mask decides where the style goes, still to be stabilized: the stylized
    /// frame and the outside (the original, or the frame in the outside's style, `stylizedOutside`),
    /// both in the encoder's format. The in-order stage steadies each painted layer on its own
    /// and then blends them by `mask`, so that a mask that moves leaves no trail.
    case masked(input: TemporalStabilizer.Motion, frame: Frame, outside: Frame, stylizedOutside: Bool, mask: Frame, written: Bool)
    /// A frame that could not be read (an image sequence's broken file): nothing to write.
    case skipped(String)
}

/// The stylize stage, run by several workers at once: a frame through the network. 8-bit 4:2:0
/// frames at the network's size go in and come out in the encoder's format with no RGB picture
/// between, where the job allows it; other frames go through RGB and the convert stage.
struct StylizeStage: Sendable {
    /// The network's size.
    let width: Int
    let height: Int
    let convert: ConvertStage
    /// The luma weights of the output's colours, when each frame keeps its own colours.
    let keepColors: LumaWeights?
    /// Whether stabilized frames are blended in the encoder's pixel format (which the
    /// stabilizer can blend, where the picture is not turned on the way) rather than in RGB.
    let blendsFrames: Bool
    /// The network's conversion straight into the encoder's format, when the job allows it.
    let direct: YUV420Conversion?
    /// Present when a mask decides where the style goes.
    let regions: RegionSetup?

    init(options: JobOptions, convert: ConvertStage, stabilizes: Bool, regions: RegionSetup? = nil) throws {
        let size = options.networkSize(width: convert.unturnedSize.width, height: convert.unturnedSize.height)
        (width, height) = size
        self.convert = convert
        keepColors = options.preserveColors ? convert.colors.lumaWeights : nil
        blendsFrames = try stabilizes && convert.rotation == 0
            && OpticalFlow.planes(of: Frame(width: convert.width, height: convert.height, format: convert.format)) != nil
        let direct = convert.rotation == 0 && keepColors == nil && convert.width == width && convert.height == height && (!stabilizes || blendsFrames)
        self.direct = direct
            ? YUV420Conversion(format: convert.format, colors: convert.colors, chromaLocation: AVCHROMA_LOC_UNSPECIFIED).flatMap { $0.depth == 8 ? $0 : nil }
            : nil
        self.regions = regions
        if regions != nil { try checkRegions(stabilizes: stabilizes) }
    }

    /// Regions blend frames in the encoder's format, before the stabilizer.
    private func checkRegions(stabilizes: Bool) throws {
        guard RegionBlend.blends(convert.format) else {
            throw StylizeError.invalidArgument("a mask needs an encoder that takes whole samples, and this one takes \(pixelFormatName(convert.format)): choose another codec or container")
        }
        if stabilizes && !blendsFrames {
            throw StylizeError.invalidArgument("a mask on a clip whose pictures are turned for this container needs the stabilizer off (--no-stabilize), or a container that keeps the rotation (.mp4, .mov, .mkv)")
        }
    }

    /// Stylizes `work` on `worker`; a stabilized frame also carries its measured motion.
    func process(_ work: StylizeWork, on worker: ClipWorker) throws -> StylizedItem {
        if let regions = work.regions { return try process(work, regions: regions, on: worker) }
        if let frame = try directlyEncoded(work, work.conditioning, worker: worker) {
            frame.pointer.pointee.pts = work.pts
            guard let luma = work.luma else { return .frame(frame) }
            return .encoded(input: motion(luma, flow: worker.flow), frame: frame, written: !work.warmup)
        }
        let image = try worker.converter.rgbImage(from: work.frame, width: width, height: height)
        let stylized: RGBImage
        if let keepColors {
            stylized = try worker.network.stylize(image, work.conditioning).keepingColors(of: image, luma: keepColors)
        } else {
            // Handed over: the network's output reuses the input's memory.
            stylized = try worker.network.stylize(consume image, work.conditioning)
        }
        let aspect = work.frame.pointer.pointee.sample_aspect_ratio
        guard let luma = work.luma else {
            return .frame(try convert.frame(from: stylized, pts: work.pts, aspect: aspect, index: work.index, converter: worker.converter))
        }
        let motion = motion(luma, flow: worker.flow)
        if blendsFrames {
            let frame = try convert.frame(from: stylized, pts: work.pts, aspect: aspect, index: nil, converter: worker.converter)
            return .encoded(input: motion, frame: frame, written: !work.warmup)
        }
        let painted = PaintedPicture(input: motion, stylized: Handover(stylized))
        if work.warmup { return .warmup(painted) }
        return .image(painted, pts: work.pts, aspect: aspect)
    }

    /// A frame whose mask decides where the style goes: painted in the job's style, and blended
    /// with the outside (the original, or the frame painted in the outside's style) in the
    /// encoder's format; here when the job is not stabilized, else by the stabilize stage once
    /// it has steadied each painted layer.
    private func process(_ work: StylizeWork, regions: RegionWork, on worker: ClipWorker) throws -> StylizedItem {
        guard let masks = worker.masks else { throw StylizeError.invalidArgument("a worker for a masked job has no mask maker") }
        let frame = try encoderFrame(work, work.conditioning, worker: worker)
        frame.pointer.pointee.pts = work.pts
        let outside = try regions.outside.map { try encoderFrame(work, $0, worker: worker) } ?? original(work, worker: worker)
        let mask = try masks.mask(for: work.frame, stored: regions.stored)
        guard let luma = work.luma else {
            try RegionBlend.blend(frame, with: outside, mask: mask)
            try convert.offer(frame, index: work.index, converter: worker.converter)
            return .frame(frame)
        }
        return .masked(input: motion(luma, flow: worker.flow), frame: frame, outside: outside, stylizedOutside: regions.outside != nil,
                       mask: mask, written: !work.warmup)
    }

    /// The frame painted with `conditioning`, in the encoder's format and size.
    private func encoderFrame(_ work: StylizeWork, _ conditioning: StyleConditioning, worker: ClipWorker) throws -> Frame {
        if let frame = try directlyEncoded(work, conditioning, worker: worker) { return frame }
        let image = try worker.converter.rgbImage(from: work.frame, width: width, height: height)
        var stylized = try worker.network.stylize(image, conditioning)
        if let keepColors { stylized = stylized.keepingColors(of: image, luma: keepColors) }
        return try convert.frame(from: stylized, pts: work.pts, aspect: work.frame.pointer.pointee.sample_aspect_ratio, index: nil,
                                 converter: worker.converter)
    }

    /// The source's frame in the encoder's format, size and turn: the frame itself where it
    /// already is so (the outside then keeps its exact pixels).
    private func original(_ work: StylizeWork, worker: ClipWorker) throws -> Frame {
        let frame = work.frame
        if convert.rotation == 0, frame.width == convert.width, frame.height == convert.height, frame.format == convert.format { return frame }
        let size = convert.unturnedSize
        return try convert.frame(from: worker.converter.rgbImage(from: frame, width: size.width, height: size.height), pts: work.pts,
                                 aspect: frame.pointer.pointee.sample_aspect_ratio, index: nil, converter: worker.converter)
    }

    /// The frame stylized with `conditioning` straight into the encoder's format, where both
    /// sides allow it.
    private func directlyEncoded(_ work: StylizeWork, _ conditioning: StyleConditioning, worker: ClipWorker) throws -> Frame? {
        let frame = work.frame
        guard let direct, frame.width == convert.width, frame.height == convert.height, convert.filmstrip?.targets.contains(work.index) != true,
              let conversion = YUV420Conversion(of: frame) else { return nil }
        let output = try Frame(width: convert.width, height: convert.height, format: convert.format)
        convert.colors.tag(output)
        try worker.network.stylize(frame, conversion, conditioning, into: output, direct)
        output.pointer.pointee.sample_aspect_ratio = frame.pointer.pointee.sample_aspect_ratio
        return output
    }

    /// The motion of a frame back to the one before, for the stabilizer.
    private func motion(_ luma: StylizeWork.Luma, flow: OpticalFlow?) -> TemporalStabilizer.Motion {
        var motion = TemporalStabilizer.Motion(luma: luma.current, scale: luma.scale, width: width, height: height)
        if let previous = luma.previous, let flow { motion.measure(against: previous, flow: flow) }
        return motion
    }
}
