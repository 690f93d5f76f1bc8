import Dispatch
import Foundation

/// The stage chain in the middle of every job: items are read one at a time, frames are
/// processed by several workers at once, and every item is written in reading order.
///
/// A fixed number of frames is in flight whatever the length of the input (`framesInFlight`),
/// so memory stays flat. Pass-through items (audio packets, say) skip the workers but keep
/// their place in the order. Reading, processing and writing overlap: the reader runs on the
/// caller's thread, each worker on its own serial queue, and writing on one serial queue.
///
/// Inputs and outputs cross threads, so they are `Sendable` (frames and packets by a documented
/// hand-over: see `Frame`). The pipeline itself is `@unchecked Sendable` because its mutable
/// state is confined: `firstError` is guarded by `lock`, `pending` and `nextToWrite` are only
/// touched on `writerQueue`, each worker only on its own serial queue, and `started` only by
/// the one call to `run`.
final class OrderedPipeline<Worker, Input: Sendable, Output: Sendable>: @unchecked Sendable {
    /// What the reader yields.
    enum Item {
        /// A frame for the workers.
        case work(Input)
        /// Something that goes straight to the writer, in order.
        case passThrough(Output)
    }

    /// A worker's scratch state and the serial queue that alone touches it.
    private final class Lane: @unchecked Sendable {
        let worker: Worker
        let queue: DispatchQueue
        init(_ worker: Worker, _ queue: DispatchQueue) { (self.worker, self.queue) = (worker, queue) }
    }

    private let lanes: [Lane]
    private let framesInFlight: Int
    /// Runs on several worker queues at once, hence `@Sendable`.
    private let process: @Sendable (Worker, Input) throws -> Output
    /// Runs on the writer queue only, one output at a time.
    private let write: (Output) throws -> Void

    private let writerQueue = DispatchQueue(label: "stylize.pipeline.writer")
    private let lock = NSLock()
    private var firstError: Error?
    /// Processed items waiting for their turn, by sequence number (writer queue only).
    private var pending: [Int: Done] = [:]
    private var nextToWrite = 0
    private var started = false

    /// - Parameters:
    ///   - workers: one per concurrent worker (each owns its scratch memory).
    ///   - framesInFlight: frames read but not yet written, at most.
    ///   - process: turns an input into an output on a worker's queue.
    ///   - write: consumes outputs in reading order on the writer queue.
    init(workers: [Worker], framesInFlight: Int,
         process: @escaping @Sendable (Worker, Input) throws -> Output,
         write: @escaping (Output) throws -> Void) {
        precondition(!workers.isEmpty && framesInFlight > 0)
        lanes = workers.enumerated().map { Lane($0.element, DispatchQueue(label: "stylize.pipeline.worker\($0.offset)")) }
        self.framesInFlight = max(framesInFlight, workers.count)
        self.process = process
        self.write = write
    }

    /// The first error any stage threw, if any.
    var error: Error? {
        lock.lock(); defer { lock.unlock() }
        return firstError
    }

    private func fail(_ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if firstError == nil { firstError = error }
    }

    /// Reads items with `read` until it returns nil (or a stage fails), waits until every item
    /// read has been written, and rethrows the first error of any stage. Call it once.
    func run(read: () throws -> Item?) throws {
        precondition(!started, "an OrderedPipeline runs once")
        started = true
        let slots = DispatchSemaphore(value: framesInFlight)
        let group = DispatchGroup()
        var sequence = 0, frames = 0
        while error == nil {
            let item: Item?
            do { item = try read() } catch { fail(error); break }
            guard let item else { break }
            let number = sequence
            sequence += 1
            group.enter()
            switch item {
            case .passThrough(let output):
                writerQueue.async { self.deliver(number, output, holdsSlot: false, slots: slots, group: group) }
            case .work(let input):
                slots.wait()
                let lane = lanes[frames % lanes.count]
                frames += 1
                lane.queue.async {
                    var processed: Output?
                    if self.error == nil {
                        do { processed = try self.process(lane.worker, input) } catch { self.fail(error) }
                    }
                    let output = processed
                    self.writerQueue.async { self.deliver(number, output, holdsSlot: true, slots: slots, group: group) }
                }
            }
        }
        group.wait()
        // Every item is written, but the blocks that carried the last ones may still be letting
        // go of them on the workers' and the writer's threads: wait until each queue is idle, so
        // that nothing of the run outlives it (a caller that exits next leaks nothing, and the
        // memory is back when `run` returns).
        for lane in lanes { lane.queue.sync {} }
        writerQueue.sync {}
        if let error { throw error }
    }

    /// Writer queue only: files the item numbered `number` and writes everything that is now
    /// next in order. A nil output (its stage failed) is skipped; slots are always given back.
    private func deliver(_ number: Int, _ output: Output?, holdsSlot: Bool, slots: DispatchSemaphore, group: DispatchGroup) {
        pending[number] = Done(output: output, holdsSlot: holdsSlot)
        while let done = pending.removeValue(forKey: nextToWrite) {
            if error == nil, let output = done.output {
                do { try write(output) } catch { fail(error) }
            }
            if done.holdsSlot { slots.signal() }
            nextToWrite += 1
            group.leave()
        }
    }

    private struct Done {
        var output: Output?
        var holdsSlot: Bool
    }
}
