import Foundation
import GRDB
import StylizeKit

/// A render as the database keeps it and the page shows it.
struct RenderJob: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    enum State: String, Codable, Sendable {
        case queued, running, done, failed, cancelled
    }

    static let databaseTableName = "job"

    var id: Int64?
    var state: State
    /// Input and output, relative to the root.
    var input: String
    var output: String
    /// The equivalent command line, run from the root.
    var command: String
    /// The page's settings as JSON (`StudioSettings`), what the job runs with.
    var settings: String
    var framesDone: Int
    var framesTotal: Int?
    var fps: Double?
    var error: String?
    var created: Date

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The JSON the page gets.
    struct View: Codable, Sendable {
        var id: Int64
        var state: State
        var input, output, command: String
        var framesDone: Int
        var framesTotal: Int?
        var fps: Double?
        var etaSeconds: Double?
        var error: String?
        var created: String
    }

    var view: View {
        let eta: Double? = state == .running ? zip(framesTotal, fps).flatMap { total, fps in fps > 0 ? Double(max(0, total - framesDone)) / fps : nil } : nil
        return View(id: id ?? 0, state: state, input: input, output: output, command: command, framesDone: framesDone,
                    framesTotal: framesTotal, fps: fps, etaSeconds: eta, error: error,
                    created: ISO8601DateFormatter().string(from: created))
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

/// Renders one at a time, oldest first, from a queue kept in SQLite (`studio.sqlite` in the
/// studio's folder), so that queued renders and finished outputs outlive the server. A render
/// the server was stopped in the middle of goes back to the queue; it wrote nothing (StylizeKit
/// writes an output under a temporary name and renames it when complete).
actor RenderQueue {
    private let database: DatabaseQueue
    private let engine: PreviewEngine
    /// Each event stream's continuation; nil is a keep-alive, sent every 15 s so that a stream
    /// whose page went away fails to write and ends.
    private var subscribers: [UUID: AsyncStream<RenderJob.View?>.Continuation] = [:]
    private var keepAlive: Task<Void, Never>?
    private var current: (job: RenderJob, cancel: Locked<Bool>)?
    private var lastSent = Date.distantPast
    private var loop: Task<Void, Never>?
    private var stopping = false
    /// Set once the server shuts down: open streams end, and new ones end at once.
    private var streamsEnded = false

    init(engine: PreviewEngine) throws {
        self.engine = engine
        try FileManager.default.createDirectory(at: engine.root.renders, withIntermediateDirectories: true)
        database = try DatabaseQueue(path: engine.root.dataFolder.appendingPathComponent("studio.sqlite").path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("jobs") { db in
            try db.create(table: RenderJob.databaseTableName) { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("state", .text).notNull()
                t.column("input", .text).notNull()
                t.column("output", .text).notNull()
                t.column("command", .text).notNull()
                t.column("settings", .text).notNull()
                t.column("framesDone", .integer).notNull()
                t.column("framesTotal", .integer)
                t.column("fps", .double)
                t.column("error", .text)
                t.column("created", .datetime).notNull()
            }
        }
        try migrator.migrate(database)
        // Renders interrupted by a stop start again from the beginning.
        try database.write { db in
            try db.execute(sql: "UPDATE job SET state = 'queued', framesDone = 0, fps = NULL WHERE state = 'running'")
        }
    }

    /// Starts working through the queue.
    func start() {
        guard loop == nil else { return }
        loop = Task { await self.work() }
    }

    /// Cancels the running render (it goes back to the queue, to run after a restart) and ends
    /// every event stream.
    func stop() async {
        stopping = true
        current?.cancel.withLock { $0 = true }
        endStreams()
        await loop?.value
    }

    /// Ends every event stream, and those opened later at once. The server stops only once its
    /// responses have ended, and an event stream never ends on its own.
    func endStreams() {
        streamsEnded = true
        subscribers.values.forEach { $0.finish() }
        subscribers = [:]
        keepAlive?.cancel()
    }

    func jobs() throws -> [RenderJob] {
        try database.read { db in try RenderJob.order(Column("id").desc).fetchAll(db) }.map { job in
            job.id == current?.job.id ? current!.job : job
        }
    }

    func job(_ id: Int64) throws -> RenderJob {
        if let current, current.job.id == id { return current.job }
        guard let job = try database.read({ db in try RenderJob.fetchOne(db, key: id) }) else {
            throw StudioError.notFound("there is no render \(id)")
        }
        return job
    }

    /// Every job once (oldest first), then every change.
    func subscribe() throws -> AsyncStream<RenderJob.View?> {
        let (stream, continuation) = AsyncStream<RenderJob.View?>.makeStream(bufferingPolicy: .bufferingNewest(256))
        for job in try jobs().reversed() { continuation.yield(job.view) }
        if streamsEnded { continuation.finish(); return stream }
        let id = UUID()
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        if keepAlive == nil {
            keepAlive = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: 15_000_000_000)
                    self.ping()
                }
            }
        }
        return stream
    }

    private func ping() {
        for continuation in subscribers.values { continuation.yield(nil) }
    }

    private func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    private func publish(_ job: RenderJob) {
        for continuation in subscribers.values { continuation.yield(job.view) }
    }

    /// Checks and queues a render.
    func submit(_ settings: StudioSettings) throws -> RenderJob {
        let pending = [RenderJob.State.queued, .running].map(\.rawValue)
        let taken = try database.read { db in try RenderJob.filter(pending.contains(Column("state"))).fetchAll(db) }
            .map { URL(fileURLWithPath: $0.output).lastPathComponent }
        let plan = try RenderPlan(settings, engine: engine, taken: Set(taken))
        var job = RenderJob(id: nil, state: .queued, input: plan.settings.path, output: plan.output, command: plan.command,
                            settings: String(decoding: try JSONEncoder().encode(plan.settings), as: UTF8.self),
                            framesDone: 0, framesTotal: plan.frames, fps: nil, error: nil, created: Date())
        job = try database.write { [job] db in
            var inserted = job
            try inserted.insert(db)
            return inserted
        }
        if let keyframes = plan.keyframesFile { try keyframes.data.write(to: keyframes.url, options: .atomic) }
        publish(job)
        if loop == nil { start() }
        return job
    }

    /// Removes the finished renders (done, failed or cancelled) from the list; their outputs
    /// stay in the renders folder. Returns their ids.
    func clearFinished() throws -> [Int64] {
        let finished = [RenderJob.State.done, .failed, .cancelled].map(\.rawValue)
        return try database.write { db in
            let ids = try RenderJob.filter(finished.contains(Column("state"))).fetchAll(db).compactMap(\.id)
            try RenderJob.filter(ids.contains(Column("id"))).deleteAll(db)
            return ids
        }
    }

    /// Cancels a queued or running render.
    func cancel(_ id: Int64) throws -> RenderJob {
        if let current, current.job.id == id {
            current.cancel.withLock { $0 = true }
            return current.job
        }
        var job = try job(id)
        guard job.state == .queued else { throw StudioError.conflict("render \(id) is \(job.state.rawValue), not queued or running") }
        job.state = .cancelled
        try save(job)
        return job
    }

    private func save(_ job: RenderJob) throws {
        try database.write { db in try job.update(db) }
        publish(job)
    }

    private func nextQueued() throws -> RenderJob? {
        try database.read { db in
            try RenderJob.filter(Column("state") == RenderJob.State.queued.rawValue).order(Column("id")).fetchOne(db)
        }
    }

    private func work() async {
        while !stopping {
            guard let next = try? nextQueued() else {
                // Nothing queued: the loop ends and the next submission starts it again.
                loop = nil
                return
            }
            await run(next)
        }
    }

    private func run(_ queued: RenderJob) async {
        var job = queued
        job.state = .running
        let cancel = Locked(false)
        current = (job, cancel)
        try? save(job)
        let engine = engine
        let id = job.id!
        let outcome: Result<Int, Error>
        do {
            let settings = try JSONDecoder().decode(StudioSettings.self, from: Data(job.settings.utf8))
            let output = try engine.root.resolve(job.output, mustExist: false)
            outcome = .success(try await runBlocking { isCancelled in
                try RenderPlan.render(settings, to: output, engine: engine, isCancelled: { isCancelled() || cancel.withLock { $0 } }) { progress in
                    Task { await self.progress(id, progress) }
                }
            })
        } catch {
            outcome = .failure(error)
        }
        // With the progress the job reached.
        job = current?.job ?? job
        switch outcome {
        case .success(let frames):
            job.state = .done
            job.framesDone = frames
            job.framesTotal = frames
        case .failure(let error):
            if stopping {
                job.state = .queued
                job.framesDone = 0
                job.fps = nil
            } else if cancel.withLock({ $0 }) {
                job.state = .cancelled
            } else {
                job.state = .failed
                job.error = StudioError.from(error).message
            }
        }
        current = nil
        try? save(job)
    }

    private func progress(_ id: Int64, _ progress: JobProgress) {
        guard let (running, cancel) = current, running.id == id, running.state == .running else { return }
        var job = running
        job.framesDone = progress.framesDone
        job.framesTotal = progress.framesTotal ?? job.framesTotal
        job.fps = progress.framesPerSecond
        current = (job, cancel)
        // At most four updates a second reach the page, and always the last frame.
        if Date().timeIntervalSince(lastSent) >= 0.25 || progress.framesDone == job.framesTotal {
            lastSent = Date()
            publish(job)
        }
    }
}
