import Foundation

/// CPU time, for how much of a job's work went where: unlike the wall clock, it does not count
/// what other processes on a shared machine take, so a part's share of a job's CPU time holds
/// steady from run to run where rates vary by several percent.
enum CPUTime {
    /// The calling thread's CPU time so far, in nanoseconds.
    static func thread() -> UInt64 { clock(CLOCK_THREAD_CPUTIME_ID) }

    /// The process's CPU time so far (all its threads), in nanoseconds.
    static func process() -> UInt64 { clock(CLOCK_PROCESS_CPUTIME_ID) }

    private static func clock(_ id: clockid_t) -> UInt64 {
        var now = timespec()
        guard clock_gettime(id, &now) == 0 else { return 0 }
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// CPU time spent in one object's work, which runs on one thread at a time.
struct CPUTally {
    /// Nanoseconds so far.
    private(set) var nanoseconds: UInt64 = 0

    /// Adds the CPU time the calling thread spent since `start` (a `CPUTime.thread()`). Taken
    /// after the work rather than around it, so that the tally is not held while the work runs
    /// (it may read the tally, or time a part of itself).
    mutating func add(since start: UInt64) {
        nanoseconds += CPUTime.thread() &- start
    }
}
