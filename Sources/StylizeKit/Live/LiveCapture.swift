import CFFmpeg
import Dispatch
import Foundation

/// Reads and decodes a live source on a thread of its own and offers each frame to a
/// `LatestFrame`, so that the worker always takes the newest. Every packet is decoded (a
/// stream's frames depend on the ones before); frames the worker has no time for are dropped
/// after decoding. Sources that deliver as fast as they are read (files, lavfi graphs) are
/// released at the pace of their timestamps. Sendable, unchecked: after `init`, the demuxer
/// and decoder are used on the capture thread only.
final class LiveCapture: @unchecked Sendable {
    let input: LiveInput
    let demuxer: Demuxer
    let videoIndex: Int32
    private let decoder: FrameDecoder
    private let interrupter = ReadInterrupter()
    let frames = LatestFrame()

    /// Frames at or after this many seconds of the source end it (nil: none do).
    private let duration: Double?

    /// Opens `input`, giving up after its timeout when nothing arrives; with a `duration` the
    /// source ends after that many seconds of it.
    init(_ input: LiveInput, duration: Double? = nil) throws {
        try input.validate()
        self.input = input
        self.duration = duration
        interrupter.setDeadline(input.timeout > 0 ? input.timeout : nil)
        do {
            demuxer = try Demuxer(path: input.location, formatName: input.formatName, options: input.demuxerOptions, interrupter: interrupter)
        } catch StylizeError.fileNotFound(let path) where path.hasPrefix("/dev/") {
            throw StylizeError.unreadable(path: path, reason: "no such device")
        } catch StylizeError.unreadable(let path, let reason) where path.hasPrefix("/dev/") && interrupter.reason == nil {
            // The device is there, but would not open as asked.
            let cause = reason.split(separator: "(", maxSplits: 1).last.map { " (" + $0 } ?? ""
            throw StylizeError.unreadable(path: path, reason: "the device does not offer the format, size or rate asked" + cause)
        }
        let (index, codec) = try demuxer.bestVideoStream()
        videoIndex = index
        let stream = demuxer.stream(index)
        try Picture.checkSize(stream, path: input.location)
        // One thread: frame threads would each hold a frame back.
        decoder = try FrameDecoder(stream: stream, codec: codec, threads: 1, lowDelay: true)
    }

    var stream: UnsafeMutablePointer<AVStream> { demuxer.stream(videoIndex) }

    /// Starts reading on a thread of its own.
    func start() {
        Thread.detachNewThread { self.read() }
    }

    /// Stops reading (a read in progress gives up) and waits until the thread is done.
    func stop() {
        interrupter.stop()
        frames.waitForEnd()
    }

    private func read() {
        var clock = Clock(timeBase: stream.pointee.time_base, paced: input.needsPacing)
        var failure: String?
        var videoPackets = 0
        do {
            let packet = try Packet()
            while true {
                interrupter.setDeadline(input.timeout > 0 ? input.timeout : nil)
                guard try demuxer.read(into: packet) else {
                    _ = try? decoder.send(nil)
                    _ = try deliverDecoded(&clock)
                    break
                }
                if packet.pointer.pointee.stream_index == videoIndex {
                    videoPackets += 1
                    // A damaged packet costs its frames, not the job.
                    _ = try? decoder.send(packet)
                }
                packet.unref()
                if try !deliverDecoded(&clock) { break }
            }
        } catch {
            if let reason = interrupter.reason {
                failure = videoPackets > 0 && frames.counts.arrived == 0
                    ? "packets arrived, but no picture could be decoded from them (a stream shows nothing until its next keyframe)"
                    : "the input stopped sending: \(reason)"
            } else if !interrupter.isStopped {
                failure = "the input failed: \(error.localizedDescription)"
            }
        }
        frames.finish(reason: failure)
    }

    /// Offers every frame the decoder has ready, at its time when the source needs pacing;
    /// false once a frame lies past the duration.
    private func deliverDecoded(_ clock: inout Clock) throws -> Bool {
        while true {
            let frame = try Frame()
            guard (try? decoder.receive(into: frame)) == .produced else { return true }
            guard let pts = clock.place(frame.pointer.pointee.best_effort_timestamp) else { continue }
            if let duration, Double(pts) * av_q2d(clock.timeBase) >= duration - 1e-6 { return false }
            if let wait = clock.wait(until: pts) { try pause(wait) }
            frames.put(CapturedFrame(frame: frame, pts: pts, arrival: DispatchTime.now().uptimeNanoseconds))
        }
    }

    /// Sleeps `seconds`, in short steps, unless reading is stopped meanwhile.
    private func pause(_ seconds: Double) throws {
        var left = seconds
        while left > 0 {
            if interrupter.isStopped { throw CancellationError() }
            let step = min(left, 0.02)
            usleep(useconds_t(step * 1e6))
            left -= step
        }
    }

    /// The source's timeline: timestamps from the first frame's, rising, and for paced sources
    /// the moment each frame is due.
    struct Clock {
        let timeBase: AVRational
        let paced: Bool
        private var first: Int64?
        private var last: Int64?
        private var started: UInt64?

        init(timeBase: AVRational, paced: Bool) {
            (self.timeBase, self.paced) = (timeBase, paced)
        }

        /// `pts` from the first frame's; a frame without one comes a tick after the last.
        /// Nil for a timestamp that does not rise (the muxer would refuse it).
        mutating func place(_ pts: Int64) -> Int64? {
            let now = DispatchTime.now().uptimeNanoseconds
            if first == nil {
                first = pts == cffmpeg_nopts_value() ? 0 : pts
                started = now
            }
            let placed: Int64
            if pts == cffmpeg_nopts_value() {
                // Timed by arrival, in the stream's time base.
                placed = VideoReader.clampedInt64(Double(now - started!) / 1e9 / av_q2d(timeBase))
            } else {
                placed = pts &- first!
            }
            if let last, placed <= last { return nil }
            last = placed
            return placed
        }

        /// Seconds to wait before a paced frame at `pts` is due; nil when it is due now.
        func wait(until pts: Int64) -> Double? {
            guard paced, let started else { return nil }
            let due = Double(pts) * av_q2d(timeBase) - Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            return due > 0.001 ? due : nil
        }
    }
}
