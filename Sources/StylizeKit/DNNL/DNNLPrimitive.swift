import CDNNL

/// Primitive attributes: a post-op chain (ReLU, clip) and user-managed scratchpad off.
final class DNNLAttributes {
    let handle: dnnl_primitive_attr_t

    init() throws {
        var attr: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
        handle = attr!
    }

    deinit { dnnl_primitive_attr_destroy(handle) }

    /// Appends one element-wise post-op (for example ReLU, or clip to [0, 6]).
    func setPostOp(_ alg: dnnl_alg_kind_t, alpha: Float = 0, beta: Float = 0) throws {
        var ops: dnnl_post_ops_t?
        try dnnlCheck(dnnl_post_ops_create(&ops), "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        try dnnlCheck(dnnl_post_ops_append_eltwise(ops, 1, alg, alpha, beta), "dnnl_post_ops_append_eltwise")
        try dnnlCheck(dnnl_primitive_attr_set_post_ops(handle, ops), "dnnl_primitive_attr_set_post_ops")
    }
}

extension DNNLAttributes {
    /// Per-output-channel scales of an int8 primitive's result (mask: dimension 1, the channels).
    func setOutputScales(_ scales: [Float]) throws {
        try dnnlCheck(dnnl_primitive_attr_set_output_scales(handle, Int64(scales.count), 1 << 1, scales), "dnnl_primitive_attr_set_output_scales")
    }
}

/// A primitive descriptor: the implementation oneDNN picked for one operation.
final class DNNLPrimitiveDesc {
    let handle: dnnl_primitive_desc_t

    /// `opDesc` points at a filled-in operation descriptor (convolution, batch norm, ...).
    init(_ opDesc: UnsafeRawPointer, attributes: DNNLAttributes?, engine: DNNLEngine, name: String) throws {
        var pd: dnnl_primitive_desc_t?
        try dnnlCheck(dnnl_primitive_desc_create(&pd, opDesc, attributes?.handle, engine.handle, nil), "dnnl_primitive_desc_create(\(name))")
        handle = pd!
    }

    /// A reorder from one layout or type to another.
    init(reorderFrom src: dnnl_memory_desc_t, to dst: dnnl_memory_desc_t, engine: DNNLEngine) throws {
        var pd: dnnl_primitive_desc_t?
        var src = src, dst = dst
        try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &src, engine.handle, &dst, engine.handle, nil), "dnnl_reorder_primitive_desc_create")
        handle = pd!
    }

    deinit { dnnl_primitive_desc_destroy(handle) }

    /// The memory descriptor the implementation wants for `what` (weights, mean, ...).
    func memoryDesc(_ what: dnnl_query_t, index: Int32 = 0) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(handle, what, index).pointee
    }

    /// The implementation oneDNN chose, as it names it ("brgconv:avx512_core_bf16", ...).
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(handle, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "?" }
        return String(cString: name)
    }
}

/// A built primitive with the arguments it runs on, ready to execute again and again.
final class DNNLPrimitive {
    let handle: dnnl_primitive_t
    private var arguments: [dnnl_exec_arg_t]
    /// Keeps the memories bound in `arguments` alive.
    private let memories: [DNNLMemory]

    init(_ pd: DNNLPrimitiveDesc, arguments: [(Int32, DNNLMemory)]) throws {
        var primitive: dnnl_primitive_t?
        try dnnlCheck(dnnl_primitive_create(&primitive, pd.handle), "dnnl_primitive_create")
        handle = primitive!
        self.arguments = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }
        memories = arguments.map(\.1)
    }

    deinit { dnnl_primitive_destroy(handle) }

    func execute(_ stream: DNNLStream) throws {
        let count = Int32(arguments.count)
        try dnnlCheck(arguments.withUnsafeBufferPointer { dnnl_primitive_execute(handle, stream.handle, count, $0.baseAddress) }, "dnnl_primitive_execute")
    }

    /// Runs a one-off reorder of `src` into `dst` and waits for it.
    static func reorder(_ src: DNNLMemory, into dst: DNNLMemory, stream: DNNLStream) throws {
        let pd = try DNNLPrimitiveDesc(reorderFrom: src.desc, to: dst.desc, engine: stream.engine)
        let primitive = try DNNLPrimitive(pd, arguments: [(DNNL_ARG_FROM, src), (DNNL_ARG_TO, dst)])
        try primitive.execute(stream)
        try stream.wait()
    }
}
