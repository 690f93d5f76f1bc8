import Foundation
import XCTest
@testable import StylizeKit

/// The stage chain with fake stages: order, bounded frames in flight, pass-through, errors.
final class OrderedPipelineTests: XCTestCase {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var current = 0, peak = 0
        func add(_ n: Int) { lock.lock(); current += n; peak = max(peak, current); lock.unlock() }
    }

    struct Failure: Error, Equatable { var at: Int }

    func testOutputsComeInReadingOrderWithPassThroughsInPlace() throws {
        var written: [String] = []
        let inFlight = Counter()
        // Three workers with different speeds, so results finish out of order.
        let pipeline = OrderedPipeline<Int, Int, String>(workers: [0, 1, 2], framesInFlight: 4, process: { worker, n in
            usleep(UInt32((3 - worker) * 2000 + (n % 5) * 300))
            return "f\(n)"
        }, write: { out in
            if out.hasPrefix("f") { inFlight.add(-1) }
            written.append(out)
        })
        var n = 0
        try pipeline.run {
            defer { n += 1 }
            if n == 60 { return nil }
            if n % 4 == 3 { return .passThrough("a\(n)") }
            inFlight.add(1)
            return .work(n)
        }
        XCTAssertEqual(written, (0..<60).map { $0 % 4 == 3 ? "a\($0)" : "f\($0)" })
        XCTAssertLessThanOrEqual(inFlight.peak, 4 + 1, "frames read but not written stay bounded")
    }

    func testProcessErrorStopsReadingAndIsRethrown() {
        var read = 0
        var written: [Int] = []
        let pipeline = OrderedPipeline<Int, Int, Int>(workers: [0, 1], framesInFlight: 2, process: { _, n in
            if n == 5 { throw Failure(at: n) }
            return n
        }, write: { written.append($0) })
        XCTAssertThrowsError(try pipeline.run {
            read += 1
            return read > 1000 ? nil : .work(read - 1)
        }) { XCTAssertEqual($0 as? Failure, Failure(at: 5)) }
        XCTAssertLessThan(read, 20, "reading stops soon after a failure")
        // Work stops at the first failure: what was written is an in-order prefix of what came
        // before it (a job that fails is abandoned whole), and nothing after it.
        XCTAssertEqual(written, Array(0..<written.count))
        XCTAssertLessThanOrEqual(written.count, 5)
    }

    func testWriteAndReadErrorsAreRethrown() {
        let failingWrite = OrderedPipeline<Int, Int, Int>(workers: [0], framesInFlight: 3, process: { $1 }, write: { n in
            if n == 2 { throw Failure(at: n) }
        })
        var n = 0
        XCTAssertThrowsError(try failingWrite.run { n += 1; return n > 50 ? nil : .work(n) }) {
            XCTAssertEqual($0 as? Failure, Failure(at: 2))
        }
        let failingRead = OrderedPipeline<Int, Int, Int>(workers: [0], framesInFlight: 3, process: { $1 }, write: { _ in })
        XCTAssertThrowsError(try failingRead.run { throw Failure(at: -1) }) { XCTAssertEqual($0 as? Failure, Failure(at: -1)) }
    }
}
