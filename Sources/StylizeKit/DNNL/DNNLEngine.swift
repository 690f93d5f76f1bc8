import CDNNL

/// Throws `StylizeError.dnnl` unless `status` is success.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    if status != dnnl_success {
        throw StylizeError.dnnl(call: call(), status: Int(status.rawValue))
    }
}

/// The CPU engine. One per process; primitives and memories built on it are shared.
///
/// Sendable, unchecked: its one property never changes, and oneDNN's engines are thread-safe
/// (its documentation's threading model: primitives may be created and run from any thread).
final class DNNLEngine: @unchecked Sendable {
    let handle: dnnl_engine_t

    init() throws {
        var engine: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
        handle = engine!
    }

    deinit { dnnl_engine_destroy(handle) }

    /// The process-wide CPU engine, created on first use.
    static func shared() throws -> DNNLEngine {
        try sharedEngine.get()
    }

    private static let sharedEngine = Result { try DNNLEngine() }
}

/// An in-order execution stream. Each network instance owns one, so instances run independently.
final class DNNLStream {
    let handle: dnnl_stream_t
    let engine: DNNLEngine

    init(engine: DNNLEngine) throws {
        var stream: dnnl_stream_t?
        try dnnlCheck(dnnl_stream_create(&stream, engine.handle, UInt32(dnnl_stream_default_flags.rawValue)), "dnnl_stream_create")
        handle = stream!
        self.engine = engine
    }

    deinit { dnnl_stream_destroy(handle) }

    func wait() throws {
        try dnnlCheck(dnnl_stream_wait(handle), "dnnl_stream_wait")
    }
}
