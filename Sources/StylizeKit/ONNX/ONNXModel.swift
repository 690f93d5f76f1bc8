import Foundation
import SwiftProtobuf

/// A float tensor with its shape, row-major (ONNX order: OIHW for conv weights).
struct FloatTensor {
    var shape: [Int]
    var values: [Float]
}

/// One Conv node of a graph with its weights dequantized: everything needed to rebuild it.
struct ConvSpec {
    var name: String
    /// OIHW (ONNX) weights; for a grouped conv I is the channels per group.
    var weights: FloatTensor
    var bias: [Float]
    var groups: Int
    var strides: [Int]
    /// Top, left, bottom, right (ONNX order is begin..., end...).
    var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int

    /// The layer's name for reports: "contract/conv1" for "transformer/contract/conv1/weights".
    var layerName: String {
        var name = Substring(self.name)
        for prefix in ["transformer/"] where name.hasPrefix(prefix) { name = name.dropFirst(prefix.count) }
        for suffix in ["/conv/weights", "/weights"] where name.hasSuffix(suffix) { name = name.dropLast(suffix.count); break }
        return String(name)
    }

    var outputChannels: Int { weights.shape[0] }
    var inputChannels: Int { weights.shape[1] * groups }
    var kernelHeight: Int { weights.shape[2] }
    var kernelWidth: Int { weights.shape[3] }
}

/// An ONNX file read with swift-protobuf, with its weight tensors dequantized once at load.
///
/// The shipped models are int8 "QDQ" graphs: weights are int8 initializers behind
/// `DequantizeLinear` (per-output-channel scales). Those nodes are evaluated here, so
/// `constant(_:)` returns the float value any node input refers to; activation
/// Quantize/Dequantize pairs are ignored (StylizeKit computes in float).
final class ONNXModel {
    let path: String
    let nodes: [Onnx_NodeProto]
    private(set) var constants: [String: FloatTensor] = [:]

    convenience init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw StylizeError.modelDamaged(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses an ONNX file's bytes; `path` names it in errors.
    init(data: Data, path: String) throws {
        self.path = path
        let model: Onnx_ModelProto
        do { model = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw StylizeError.modelDamaged(path: path, reason: "not an ONNX file")
        }
        nodes = model.graph.node
        var raw: [String: FloatTensor] = [:]
        for tensor in model.graph.initializer {
            raw[tensor.name] = try Self.decode(tensor, path: path)
        }
        constants = raw
        for node in nodes where node.opType == "DequantizeLinear" {
            guard let input = node.input.first, let x = raw[input] else { continue }  // an activation, not a weight
            guard node.input.count >= 2, let scale = raw[node.input[1]], let output = node.output.first else {
                throw StylizeError.modelDamaged(path: path, reason: "DequantizeLinear \(node.name) has no scale")
            }
            let zeroPoint = node.input.count > 2 ? raw[node.input[2]] : nil
            let axis = node.attribute.first { $0.name == "axis" }.map { Int(clamping: $0.i) } ?? 1
            constants[output] = try Self.dequantize(x, scale: scale, zeroPoint: zeroPoint, axis: axis, path: path)
        }
    }

    /// The float value of a node input that is a constant (an initializer or a dequantized one).
    func constant(_ name: String) throws -> FloatTensor {
        guard let tensor = constants[name] else {
            throw StylizeError.modelDamaged(path: path, reason: "missing tensor \(name)")
        }
        // Tensors of types the networks never read are kept without values; refuse them here.
        guard tensor.values.count == tensor.shape.reduce(1, *) else {
            throw StylizeError.modelDamaged(path: path, reason: "tensor \(name) has a type StylizeKit does not read")
        }
        return tensor
    }

    /// The Conv node whose weights are the tensor `weightsName` (before dequantization).
    func conv(weights weightsName: String) throws -> ConvSpec {
        let input = weightsName + "_dequant"
        guard let node = nodes.first(where: { $0.opType == "Conv" && $0.input.count >= 2 && ($0.input[1] == input || $0.input[1] == weightsName) }) else {
            throw StylizeError.modelDamaged(path: path, reason: "no Conv node uses \(weightsName)")
        }
        let weights = try constant(node.input[1])
        guard weights.shape.count == 4 else {
            throw StylizeError.modelDamaged(path: path, reason: "\(weightsName) is not a 4-d tensor")
        }
        let bias = node.input.count > 2 ? try constant(node.input[2]).values : [Float](repeating: 0, count: weights.shape[0])
        guard bias.count == weights.shape[0] else {
            throw StylizeError.modelDamaged(path: path, reason: "bias of \(weightsName) has \(bias.count) values")
        }
        func ints(_ name: String, _ fallback: [Int]) -> [Int] {
            node.attribute.first { $0.name == name }.map { $0.ints.map { Int(clamping: $0) } } ?? fallback
        }
        let pads = ints("pads", [0, 0, 0, 0])
        let strides = ints("strides", [1, 1])
        let groups = node.attribute.first { $0.name == "group" }.map { Int(clamping: $0.i) } ?? 1
        guard pads.count == 4, pads.allSatisfy({ (0...64).contains($0) }), strides.count == 2, strides.allSatisfy({ (1...64).contains($0) }),
              (1...65536).contains(groups), weights.shape.allSatisfy({ (1...65536).contains($0) }),
              weights.shape[0] % groups == 0 else {
            throw StylizeError.modelDamaged(path: path, reason: "Conv with \(weightsName) has impossible attributes")
        }
        return ConvSpec(name: weightsName, weights: weights, bias: bias, groups: groups, strides: strides,
                        padTop: pads[0], padLeft: pads[1], padBottom: pads[2], padRight: pads[3])
    }

    /// The per-output-channel steps of the int8 weights `name` (symmetric: zero point 0).
    func weightScales(_ name: String) throws -> [Float] {
        guard let node = nodes.first(where: { $0.opType == "DequantizeLinear" && $0.input.first == name }), node.input.count >= 2,
              let scale = constants[node.input[1]]?.values, scale.allSatisfy({ $0 > 0 && $0.isFinite }),
              node.input.count < 3 || constants[node.input[2]]?.values.allSatisfy({ $0 == 0 }) == true else {
            throw StylizeError.modelDamaged(path: path, reason: "\(name) are not symmetric int8 weights")
        }
        return scale
    }

    /// The constant input of the first node of type `op` whose output starts with `outputPrefix`.
    func constantInput(op: String, outputPrefix: String) throws -> FloatTensor {
        for node in nodes where node.opType == op && node.output.contains(where: { $0.hasPrefix(outputPrefix) }) {
            if let name = node.input.first(where: { constants[$0] != nil }) { return try constant(name) }
        }
        throw StylizeError.modelDamaged(path: path, reason: "no \(op) node with a constant input at \(outputPrefix)")
    }

    // MARK: - Tensor decoding

    private enum DataType: Int32 {
        case float = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7
    }

    private static func decode(_ tensor: Onnx_TensorProto, path: String) throws -> FloatTensor {
        // Dimensions come from the file: refuse negative ones and products beyond any real model.
        guard tensor.dims.allSatisfy({ (0...Int64(Int32.max)).contains($0) }) else {
            throw StylizeError.modelDamaged(path: path, reason: "\(tensor.name) has an impossible shape")
        }
        let shape = tensor.dims.map(Int.init)
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= 1 << 32 else { throw StylizeError.modelDamaged(path: path, reason: "\(tensor.name) is impossibly large") }
            count = product
        }
        guard tensor.dataLocation == 0 else {
            throw StylizeError.modelDamaged(path: path, reason: "\(tensor.name) is stored outside the file")
        }
        guard let type = DataType(rawValue: tensor.dataType) else {
            return FloatTensor(shape: shape, values: [])  // types the networks never read (strings, ...)
        }
        let raw = tensor.rawData
        var values: [Float]
        switch type {
        case .float:
            values = raw.isEmpty ? tensor.floatData : Self.unpack(raw, as: UInt32.self) { Float(bitPattern: $0) }
        case .uint8:
            values = raw.isEmpty ? tensor.int32Data.map(Float.init) : Self.unpack(raw, as: UInt8.self) { Float($0) }
        case .int8:
            values = raw.isEmpty ? tensor.int32Data.map(Float.init) : Self.unpack(raw, as: Int8.self) { Float($0) }
        case .int32:
            values = raw.isEmpty ? tensor.int32Data.map(Float.init) : Self.unpack(raw, as: Int32.self) { Float($0) }
        case .int64:
            values = raw.isEmpty ? tensor.int64Data.map(Float.init) : Self.unpack(raw, as: Int64.self) { Float($0) }
        }
        guard values.count == count else {
            throw StylizeError.modelDamaged(path: path, reason: "\(tensor.name) holds \(values.count) values, its shape needs \(count)")
        }
        return FloatTensor(shape: shape, values: values)
    }

    /// Reads little-endian `T`s from ONNX raw_data (always little-endian).
    private static func unpack<T: FixedWidthInteger & BitwiseCopyable>(_ data: Data, as: T.Type, _ convert: (T) -> Float) -> [Float] {
        data.withUnsafeBytes { bytes in
            let count = bytes.count / MemoryLayout<T>.size
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    out[i] = convert(T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)))
                }
                initialized = count
            }
        }
    }

    /// ONNX DequantizeLinear: y = (x - zero_point) * scale, per `axis` when scale is a vector.
    private static func dequantize(_ x: FloatTensor, scale: FloatTensor, zeroPoint: FloatTensor?, axis: Int, path: String) throws -> FloatTensor {
        let zero = zeroPoint?.values ?? [0]
        if scale.values.count == 1 {
            let s = scale.values[0], z = zero.first ?? 0
            var values = x.values
            values.withUnsafeMutableBufferPointer { values in
                for i in values.indices { values[i] = (values[i] - z) * s }
            }
            return FloatTensor(shape: x.shape, values: values)
        }
        let axis = axis < 0 ? axis + x.shape.count : axis
        guard !x.values.isEmpty else { return x }
        guard axis >= 0, axis < x.shape.count, x.shape[axis] == scale.values.count,
              zero.count == 1 || zero.count == scale.values.count else {
            throw StylizeError.modelDamaged(path: path, reason: "per-axis scale does not fit its tensor")
        }
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let channels = x.shape[axis]
        var values = x.values
        values.withUnsafeMutableBufferPointer { values in
            // Runs of `inner` values share a channel; the channels repeat every channels * inner.
            for start in stride(from: 0, to: values.count, by: inner) {
                let c = (start / inner) % channels
                let (z, s) = (zero.count == 1 ? zero[0] : zero[c], scale.values[c])
                for i in start..<min(start + inner, values.count) { values[i] = (values[i] - z) * s }
            }
        }
        return FloatTensor(shape: x.shape, values: values)
    }
}
