import CDNNL

/// Arithmetic the transformer's convolutions use.
public enum Precision: String, CaseIterable, Sendable, Codable {
    /// bf16 where the CPU has native bf16 (AMX or AVX512-BF16), f32 elsewhere.
    case auto
    /// 32-bit floats everywhere: the reference path, on any x86-64 CPU.
    case f32
    /// bf16 convolution inputs and weights, f32 accumulation, normalization and output.
    case bf16

    /// `auto` made concrete for this CPU.
    public var resolved: Precision {
        self == .auto ? (Self.cpuHasNativeBF16 ? .bf16 : .f32) : self
    }

    /// Whether oneDNN found AVX512-BF16 or AMX on this CPU (it honours DNNL_MAX_CPU_ISA).
    public static var cpuHasNativeBF16: Bool {
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return dnnl_get_effective_cpu_isa().rawValue & bf16 == bf16
    }

    var dataType: DNNLDataType { resolved == .bf16 ? .bf16 : .f32 }
}
