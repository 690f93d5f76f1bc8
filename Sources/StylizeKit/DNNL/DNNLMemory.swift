import CDNNL
import Foundation
import StylizeKernels

/// Element types the networks use.
enum DNNLDataType {
    case f32, bf16
    /// Bytes: the int8 network's activations (its signed levels plus 128) and weights.
    case u8, s8

    var raw: dnnl_data_type_t {
        switch self {
        case .f32: dnnl_f32
        case .bf16: dnnl_bf16
        case .u8: dnnl_u8
        case .s8: dnnl_s8
        }
    }

    var size: Int {
        switch self {
        case .f32: 4
        case .bf16: 2
        case .u8, .s8: 1
        }
    }

    /// The destination type code of StylizeKernels' gathers (STYLIZE_F32, ...).
    var kernelType: Int32 {
        switch self {
        case .bf16: Int32(STYLIZE_BF16)
        case .u8, .s8: Int32(STYLIZE_U8)
        case .f32: Int32(STYLIZE_F32)
        }
    }
}

/// Builds a memory descriptor. `dims` are oneDNN's logical dims (N, C, H, W for activations).
func dnnlMemoryDesc(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    let dims64 = dims.map(Int64.init)
    try dnnlCheck(dnnl_memory_desc_init_by_tag(&desc, Int32(dims.count), dims64, type, tag), "dnnl_memory_desc_init_by_tag")
    return desc
}

/// One oneDNN memory object: its buffer allocated (64-byte aligned) and freed by oneDNN, or
/// lent by a `SharedBuffer` that several memories use in turn.
final class DNNLMemory {
    let handle: dnnl_memory_t
    let desc: dnnl_memory_desc_t
    /// The buffer; for plain formats Swift code reads and writes it directly.
    var data: UnsafeMutableRawPointer {
        var pointer: UnsafeMutableRawPointer?
        dnnl_memory_get_data_handle(handle, &pointer)
        return pointer!
    }
    /// Size of the buffer in bytes.
    let byteCount: Int

    /// A memory with no buffer yet: `lender` gives it one.
    init(_ desc: dnnl_memory_desc_t, engine: DNNLEngine, in lender: MemoryLender) throws {
        var memory: dnnl_memory_t?
        var desc = desc
        try dnnlCheck(dnnl_memory_create(&memory, &desc, engine.handle, nil), "dnnl_memory_create")
        handle = memory!
        self.desc = desc
        byteCount = dnnl_memory_desc_get_size(&desc)
        lender.add(self)
    }

    init(_ desc: dnnl_memory_desc_t, engine: DNNLEngine) throws {
        var memory: dnnl_memory_t?
        var desc = desc
        try dnnlCheck(dnnl_memory_create(&memory, &desc, engine.handle, cdnnl_memory_allocate()), "dnnl_memory_create")
        handle = memory!
        self.desc = desc
        byteCount = dnnl_memory_desc_get_size(&desc)
        var pointer: UnsafeMutableRawPointer?
        let status = dnnl_memory_get_data_handle(handle, &pointer)
        guard status == dnnl_success, let pointer else {
            dnnl_memory_destroy(handle)
            throw StylizeError.dnnl(call: "dnnl_memory_get_data_handle", status: Int(status.rawValue))
        }
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
    }

    /// A plain f32 memory with `dims` in the layout `tag`.
    convenience init(f32 dims: [Int], tag: dnnl_format_tag_t, engine: DNNLEngine) throws {
        try self.init(dnnlMemoryDesc(dims, dnnl_f32, tag), engine: engine)
    }

    deinit { dnnl_memory_destroy(handle) }

    var floats: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }

    /// The element type (the networks use no other than these four).
    var elementType: DNNLDataType {
        switch desc.data_type {
        case dnnl_bf16: .bf16
        case dnnl_u8: .u8
        case dnnl_s8: .s8
        default: .f32
        }
    }

    /// The C of an N, C, H, W memory.
    var channelCount: Int { Int(desc.dims.1) }

    /// Copies `values` into a plain f32 buffer.
    func write(_ values: [Float]) {
        precondition(values.count * 4 <= byteCount, "buffer too small")
        values.withUnsafeBufferPointer { floats.update(from: $0.baseAddress!, count: values.count) }
    }
}

/// One buffer that several memories use in turn, for data that are never alive at the same
/// time (the padded copy each conv reads; the output each conv writes for the next gather).
/// Its size is the largest member's, known once every member is added. It keeps its members
/// (primitives hold only their handles).
final class SharedBuffer: MemoryLender {
    private var members: [DNNLMemory] = []
    private var buffer: UnsafeMutableRawPointer?

    func add(_ memory: DNNLMemory) {
        precondition(buffer == nil, "the shared buffer is already allocated")
        members.append(memory)
    }

    /// Allocates the buffer and points every member at it.
    func allocate() throws {
        let size = members.map(\.byteCount).max() ?? 0
        guard size > 0, let buffer = aligned_alloc(64, (size + 63) / 64 * 64) else {
            throw StylizeError.invalidArgument("cannot allocate \(size) bytes for the network's activations")
        }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        self.buffer = buffer
        for member in members {
            try dnnlCheck(dnnl_memory_set_data_handle(member.handle, buffer), "dnnl_memory_set_data_handle")
        }
    }

    deinit { free(buffer) }
}

/// Gives memories created without a buffer their bytes.
protocol MemoryLender: AnyObject {
    func add(_ memory: DNNLMemory)
}

/// Memories that are alive together only while a network runs, laid out one after another in
/// an allocation made for each run and freed after it: a network that runs rarely (the style
/// predictor, once per style) holds no activations in between.
final class ScratchArena: MemoryLender {
    private var members: [(memory: DNNLMemory, offset: Int)] = []
    private var size = 0

    func add(_ memory: DNNLMemory) {
        members.append((memory, size))
        size += (memory.byteCount + 63) / 64 * 64
    }

    /// Runs `body` with every member backed by one fresh allocation.
    func withBuffer<T>(_ body: () throws -> T) throws -> T {
        guard let buffer = aligned_alloc(64, max(size, 64)) else {
            throw StylizeError.invalidArgument("cannot allocate \(size) bytes for the network's activations")
        }
        defer { free(buffer) }
        for (memory, offset) in members {
            try dnnlCheck(dnnl_memory_set_data_handle(memory.handle, buffer + offset), "dnnl_memory_set_data_handle")
        }
        return try body()
    }
}
