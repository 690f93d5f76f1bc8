import Dispatch
import Foundation

/// A frame as it arrived from a live source.
struct CapturedFrame: Sendable {
    let frame: Frame
    /// Its timestamp in the source's time base, from the first frame's.
    let pts: Int64
    /// When it arrived (decoded), in `DispatchTime` nanoseconds.
    let arrival: UInt64
}

/// A mailbox of one frame between a live source and the worker: the newest frame wins. A frame
/// that arrives before the worker took the one before replaces it, and the one replaced counts
/// as dropped, so nothing queues and memory stays flat. Sendable, unchecked: its state is only
/// touched under `condition`.
final class LatestFrame: @unchecked Sendable {
    /// What waiting for a frame gives.
    enum Taken {
        case frame(CapturedFrame)
        /// Nothing arrived within the wait; the source goes on.
        case none
        /// The source ended (its end, a stop, or a failure: `endReason`).
        case ended
    }

    private let condition = NSCondition()
    private var frame: CapturedFrame?
    private var ended = false
    private var arrived = 0
    private var dropped = 0
    private var reason: String?

    /// Offers the newest frame, replacing one not taken yet.
    func put(_ newest: CapturedFrame) {
        condition.withLock {
            if frame != nil { dropped += 1 }
            frame = newest
            arrived += 1
            condition.signal()
        }
    }

    /// Marks the end of the source; `reason` says why when it was not a plain end or a stop.
    func finish(reason: String?) {
        condition.withLock {
            ended = true
            self.reason = reason
            condition.broadcast()
        }
    }

    /// The newest frame not taken yet, waiting up to `seconds` for one.
    func take(waiting seconds: Double) -> Taken {
        condition.withLock {
            let deadline = Date(timeIntervalSinceNow: seconds)
            while frame == nil && !ended {
                if !condition.wait(until: deadline) { return .none }
            }
            guard let taken = frame else { return .ended }
            frame = nil
            return .frame(taken)
        }
    }

    /// Waits until the source has ended.
    func waitForEnd() {
        condition.withLock { while !ended { condition.wait() } }
    }

    /// Frames arrived, frames dropped, and why the source ended early.
    var counts: (arrived: Int, dropped: Int, endReason: String?) {
        condition.withLock { (arrived, dropped, reason) }
    }
}
