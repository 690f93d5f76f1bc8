import CDNNL
import Foundation

/// Arithmetic the transformer's convolutions use.
public enum Precision: String, CaseIterable, Sendable, Codable {
    /// The faster of f32 and bf16 on this CPU, as measured the first time a transformer runs
    /// here (see `StyleTransformer.precisionChoice`): f32 where the CPU has no native bf16.
    case auto
    /// 32-bit floats everywhere: the reference path, on any x86-64 CPU.
    case f32
    /// bf16 convolution inputs and weights, f32 accumulation, normalization and output.
    case bf16
    /// The shipped int8 graph's own arithmetic: 8-bit activations and weights on oneDNN's int8
    /// kernels (VNNI where the CPU has it), every rounding of the graph kept, so the result is
    /// onnxruntime's on that graph, a little coarser than the float precisions. Never chosen
    /// by `auto`.
    case int8

    /// Whether oneDNN found AVX512-BF16 or AMX on this CPU (it honours ONEDNN_MAX_CPU_ISA).
    public static var cpuHasNativeBF16: Bool {
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return dnnl_get_effective_cpu_isa().rawValue & bf16 == bf16
    }

    /// Whether oneDNN found VNNI on this CPU (AVX512-VNNI or AVX-VNNI), which int8 needs: without
    /// it, oneDNN's int8 kernels sum pairs of byte products in 16 bits, which saturate on this
    /// network's values.
    public static var cpuHasVNNI: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return [dnnl_cpu_isa_avx512_core_vnni.rawValue, dnnl_cpu_isa_avx2_vnni.rawValue].contains { isa & $0 == $0 }
    }

    /// The element type of a concrete precision's conv inputs and weights.
    var dataType: DNNLDataType {
        precondition(self == .f32 || self == .bf16, "a float precision (auto is resolved by StyleTransformer.precisionChoice)")
        return self == .bf16 ? .bf16 : .f32
    }
}

/// What `Precision.auto` stands for on this CPU, and why.
public struct PrecisionChoice: Sendable, Codable, Equatable {
    /// A concrete precision (never `.auto`).
    public var precision: Precision
    /// One line: the measurement, or the rule, that decided.
    public var reason: String
    /// Milliseconds per probe frame of each precision timed (fastest of the runs), when measured.
    public var milliseconds: [String: Double]?

    /// This CPU's model name, as /proc/cpuinfo gives it ("unknown CPU" where it gives none).
    public static let cpuModel: String = {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let value = line.split(separator: ":", maxSplits: 1).last else { return "unknown CPU" }
        return value.trimmingCharacters(in: .whitespaces)
    }()

    /// A choice with the reason for it and, when it was measured, the times.
    public init(precision: Precision, reason: String, milliseconds: [String: Double]? = nil) {
        self.precision = precision
        self.reason = reason
        self.milliseconds = milliseconds
    }
}
