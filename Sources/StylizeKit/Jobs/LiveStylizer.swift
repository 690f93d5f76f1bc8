import CFFmpeg
import Dispatch
import Foundation

/// Stylizes a live source as it comes, until it is stopped or ends: a camera, a screen, a
/// stream. The newest frame wins: one worker with every core takes the latest frame the capture
/// thread decoded, and frames that arrive meanwhile are dropped, never queued. Each frame then
/// goes through the same stages as a clip's (`StylizeStage`, the stabilizer in its one-pass
/// form, `ConvertStage`) and out to an encoder and muxer that give it out at once.
final class LiveStylizer {
    let stylizer: Stylizer
    let options: JobOptions
    let style: LiveStyle
    /// Where the style goes, when a mask decides it.
    let regions: RegionSetup?

    init(stylizer: Stylizer, options: JobOptions, style: LiveStyle, regions: RegionSetup? = nil) {
        var options = options
        options.lowLatency = true
        (self.stylizer, self.options, self.style, self.regions) = (stylizer, options, style, regions)
    }

    /// Runs until `isCancelled` returns true (checked at least ten times a second), the
    /// source ends, or its `duration` has passed (in the source's time). A stop is the
    /// normal end of a live job: the output is finished and complete, and the summary says
    /// what was measured. `progress` is called once per frame written.
    func run(input: LiveInput, output: ClipLocation, progress: (@Sendable (JobProgress) -> Void)?,
             isCancelled: (@Sendable () -> Bool)?) throws -> JobSummary {
        try options.validate()
        let started = Date()
        let capture = try LiveCapture(input, duration: options.duration)
        let masks = try regions.flatMap { try MaskReader($0.regions.mask) }
        let writer = try VideoWriter(destination: output.path, video: VideoWriter.VideoDescription(capture.stream, in: capture.demuxer),
                                     reader: nil, options: options)
        let convert = ConvertStage(writer: writer, filmstrip: nil)
        let stabilize = StabilizeStage(strength: options.stabilization, convert: convert, stylizedOutside: regions?.outside != nil)
        let stylize = try StylizeStage(options: options, convert: convert, stabilizes: stabilize.stabilizer != nil, regions: regions)
        let worker = ClipWorker(network: try stylizer.makeWorker(precision: options.precision, threads: nil), converter: FrameConverter(),
                                flow: stabilize.stabilizer != nil ? try OpticalFlow(TemporalStabilizer.flowSettings) : nil,
                                masks: regions.map { convert.maskMaker($0.regions) })
        // The network's first run at a size sets it up; done before capture, no frame waits for it.
        _ = try worker.network.stylize(RGBImage(width: stylize.width, height: stylize.height, red: 0.5, green: 0.5, blue: 0.5),
                                       style.conditioning(transformer: stylizer.transformer, identity: nil, showing: false))
        var loop = Loop(stylizer: stylizer, style: style, stylize: stylize, stabilize: stabilize, worker: worker,
                        counter: FrameCounter(progress: progress), regions: regions.map { ($0, masks, capture.stream.pointee.time_base) })
        capture.start()
        do {
            taking: while isCancelled?() != true {
                switch capture.frames.take(waiting: 0.1) {
                case .frame(let captured):
                    if let frame = try loop.stylized(captured) {
                        try writer.write(frame)
                        loop.written(captured)
                    }
                case .none: continue
                case .ended: break taking
                }
            }
            capture.stop()
            guard loop.counter.value > 0 else {
                throw StylizeError.unreadable(path: input.location, reason: capture.frames.counts.endReason ?? "no frames arrived")
            }
            try writer.finish()
        } catch {
            capture.stop()
            writer.muxer.abandon()
            throw error
        }
        return summary(input: input, output: output, started: started, loop: loop, capture: capture, writer: writer)
    }

    private func summary(input: LiveInput, output: ClipLocation, started: Date, loop: Loop, capture: LiveCapture, writer: VideoWriter) -> JobSummary {
        let seconds = Date().timeIntervalSince(started)
        let counts = capture.frames.counts
        var summary = JobSummary(input: input.location, output: output.path, frames: loop.counter.value, seconds: seconds,
                                 framesPerSecond: Double(loop.counter.value) / max(seconds, 1e-9), width: writer.width, height: writer.height,
                                 videoCodec: writer.codecName,
                                 streams: writer.notes + (loop.stabilize.stabilizer.map { [FrameSequenceStylizer.note($0, options.stabilization)] } ?? []))
        summary.warnings += loop.regionNotes
        summary.live = LiveStatistics(framesIn: counts.arrived, framesOut: loop.counter.value, dropped: counts.arrived - loop.counter.value,
                                      latencyMilliseconds: loop.latencies.latency, endReason: counts.endReason)
        if let reason = counts.endReason { summary.warnings.append(reason) }
        return summary
    }

    /// The worker's side of a live job: each frame taken is painted in the style of the moment,
    /// steadied towards the frame written before it, and timed.
    private struct Loop {
        let stylizer: Stylizer
        let style: LiveStyle
        let stylize: StylizeStage
        let stabilize: StabilizeStage
        let worker: ClipWorker
        let counter: FrameCounter
        private let lumaReader = LumaReader()
        private var previousLuma: LumaPlane?
        private var identity: StyleVector?
        private(set) var latencies = LatencyHistogram()
        /// The regions, their stored masks, and the source's time base (mask clips go by time).
        private let regions: (setup: RegionSetup, masks: MaskReader?, timeBase: AVRational)?
        /// Made at the first frame, once the content's own vector is known.
        private var regionSchedule: RegionSchedule?

        init(stylizer: Stylizer, style: LiveStyle, stylize: StylizeStage, stabilize: StabilizeStage, worker: ClipWorker,
             counter: FrameCounter, regions: (setup: RegionSetup, masks: MaskReader?, timeBase: AVRational)?) {
            (self.stylizer, self.style, self.stylize, self.stabilize, self.worker) = (stylizer, style, stylize, stabilize, worker)
            (self.counter, self.regions) = (counter, regions)
        }

        /// What the summary should say about the masks.
        var regionNotes: [String] { regionSchedule?.notes ?? [] }

        /// The frame to write for `captured`, or nil when the stages keep it back.
        mutating func stylized(_ captured: CapturedFrame) throws -> Frame? {
            // The content's own vector, for strengths below 1: the first frame that needs it.
            if identity == nil && (style.needsIdentity || regions?.setup.outside?.needsIdentity == true) {
                identity = try stylizer.styleVector(for: Picture(frame: captured.frame))
            }
            var luma: StylizeWork.Luma?
            if stabilize.stabilizer != nil {
                // The motion is measured from the frame written before, not from dropped ones.
                let (plane, scale) = try lumaReader.luma(of: captured.frame, width: stylize.width, height: stylize.height)
                luma = .init(current: plane, previous: previousLuma, scale: scale)
                previousLuma = plane
            }
            let work = StylizeWork(frame: captured.frame, pts: captured.pts, index: counter.value,
                                   conditioning: try style.conditioning(transformer: stylizer.transformer, identity: identity),
                                   warmup: false, luma: luma, regions: try regionWork(captured))
            return try stabilize.frame(for: stylize.process(work, on: worker), index: counter.value)
        }

        /// The regions' work for `captured`: its stored mask, matched by its time (a picture's for
        /// every frame), and the outside's style.
        private mutating func regionWork(_ captured: CapturedFrame) throws -> RegionWork? {
            guard let regions else { return nil }
            if regionSchedule == nil {
                let outside = regions.setup.outside.map {
                    ConditioningSchedule(transformer: stylizer.transformer, timeline: $0, frameRate: 30, identity: identity)
                }
                regionSchedule = RegionSchedule(masks: regions.masks, outside: outside)
            }
            return try regionSchedule!.work(index: counter.value, seconds: Double(captured.pts) * av_q2d(regions.timeBase))
        }

        /// Counts a frame written and its latency since it arrived.
        mutating func written(_ captured: CapturedFrame) {
            latencies.add(milliseconds: Double(DispatchTime.now().uptimeNanoseconds - captured.arrival) / 1e6)
            counter.increment()
        }
    }
}
