import Foundation
import QKCore
import SafeTensors

/// The checkpoint formats `quant export` writes. Each packs a `QuantizedMatrix` into the
/// tensors its loaders expect under the linear layer's module name.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// compressed-tensors "pack-quantized", as llm-compressor writes it (vLLM's native format).
    case compressedTensors = "compressed-tensors"
    /// AutoGPTQ / GPTQModel (`checkpoint_format: gptq`, zero points stored minus one).
    case gptq
    /// AutoAWQ "GEMM" (interleaved nibble order).
    case awq

    /// The scale dtype the format's kernels expect for a model of dtype `modelType`.
    public func scaleType(model modelType: SafeTensorsDType) -> SafeTensorsDType {
        self == .compressedTensors ? modelType : .f16
    }
}

/// One tensor ready to write.
public struct PackedTensor: Sendable {
    public let spec: SafeTensorSpec
    public let bytes: [UInt8]

    init(_ name: String, _ dtype: SafeTensorsDType, _ shape: [Int], _ bytes: [UInt8]) throws {
        spec = try SafeTensorSpec(name: name, dtype: dtype, shape: shape)
        precondition(bytes.count == spec.byteCount, "\(name): \(bytes.count) bytes for \(spec.byteCount)")
        self.bytes = bytes
    }
}

/// Packing of the grid into each format's tensors, and their names and shapes before the data
/// exists (the writer declares every tensor up front).
///
/// - compressed-tensors: `weight_packed` I32 [out, in/8], 8 codes per word along the input,
///   lowest bits first (signed code + 8); `weight_scale` [out, groups]; asymmetric
///   `weight_zero_point` I32 [⌈out/8⌉, groups], packed the same way along the output;
///   `weight_shape` I64 [2]; act-order `weight_g_idx` I32 [in].
/// - GPTQ: `qweight` I32 [in/8, out] (packed along the input), `qzeros` I32 [groups, out/8]
///   holding zero − 1 (AutoGPTQ's v1 convention; GPTQModel converts on load), `scales` F16
///   [groups, out], `g_idx` I32 [in].
/// - AWQ GEMM: `qweight` I32 [in, out/8] and `qzeros` I32 [groups, out/8], packed along the
///   output with word slot i holding column 8w + [0,2,4,6,1,3,5,7][i]; `scales` F16 [groups, out].
public enum Layout {
    /// AutoAWQ's order of the eight output columns within a word.
    public static let awqOrder = [0, 2, 4, 6, 1, 3, 5, 7]

    /// Names, dtypes and shapes of the tensors replacing `prefix.weight`.
    public static func specs(_ format: ExportFormat, prefix: String, rows: Int, cols: Int, grid: QuantGrid,
                             actOrder: Bool) throws -> [SafeTensorSpec] {
        let pf = 32 / grid.bits, groups = cols / grid.groupSize
        switch format {
        case .compressedTensors:
            var s = [try SafeTensorSpec(name: prefix + ".weight_packed", dtype: .i32, shape: [rows, (cols + pf - 1) / pf]),
                     try SafeTensorSpec(name: prefix + ".weight_scale", dtype: grid.scaleType, shape: [rows, groups]),
                     try SafeTensorSpec(name: prefix + ".weight_shape", dtype: .i64, shape: [2])]
            if !grid.symmetric {
                s.append(try SafeTensorSpec(name: prefix + ".weight_zero_point", dtype: .i32, shape: [(rows + pf - 1) / pf, groups]))
            }
            if actOrder { s.append(try SafeTensorSpec(name: prefix + ".weight_g_idx", dtype: .i32, shape: [cols])) }
            return s
        case .gptq:
            return [try SafeTensorSpec(name: prefix + ".qweight", dtype: .i32, shape: [cols / pf, rows]),
                    try SafeTensorSpec(name: prefix + ".qzeros", dtype: .i32, shape: [groups, rows / pf]),
                    try SafeTensorSpec(name: prefix + ".scales", dtype: .f16, shape: [groups, rows]),
                    try SafeTensorSpec(name: prefix + ".g_idx", dtype: .i32, shape: [cols])]
        case .awq:
            return [try SafeTensorSpec(name: prefix + ".qweight", dtype: .i32, shape: [cols, rows / pf]),
                    try SafeTensorSpec(name: prefix + ".qzeros", dtype: .i32, shape: [groups, rows / pf]),
                    try SafeTensorSpec(name: prefix + ".scales", dtype: .f16, shape: [groups, rows])]
        }
    }

    /// Checks that `format` can hold a rows × cols layer on `grid`; the message names the layer
    /// and the group sizes that would work.
    public static func check(_ format: ExportFormat, name: String, rows: Int, cols: Int, grid: QuantGrid, actOrder: Bool) throws {
        guard cols % grid.groupSize == 0 else {
            let ok = [32, 64, 128, 256].filter { cols % $0 == 0 }
            let list = ok.isEmpty ? "none of 32, 64, 128, 256 divides it" : "group sizes that divide it: \(ok.map(String.init).joined(separator: ", "))"
            throw QuantKitError("--group-size \(grid.groupSize) does not divide the input width \(cols) of \(name) (\(list))")
        }
        let pf = 32 / grid.bits
        if format != .compressedTensors && rows % pf != 0 {
            throw QuantKitError("\(name) has \(rows) outputs, not a multiple of \(pf): \(format.rawValue) packs outputs \(pf) to a word")
        }
        if format == .gptq && cols % pf != 0 {
            throw QuantKitError("\(name) has \(cols) inputs, not a multiple of \(pf): GPTQ packs inputs \(pf) to a word")
        }
        if format == .awq && (grid.bits != 4 || actOrder) {
            throw QuantKitError("AWQ's GEMM layout holds 4-bit weights in input order only (no --bits \(grid.bits)\(actOrder ? ", no --act-order" : ""))")
        }
    }

    /// The packed tensors of `q` under `prefix`, in the order of `specs`.
    public static func pack(_ format: ExportFormat, prefix: String, _ q: QuantizedMatrix, actOrder: Bool) throws -> [PackedTensor] {
        let specs = try specs(format, prefix: prefix, rows: q.rows, cols: q.cols, grid: q.grid, actOrder: actOrder)
        let rows = q.rows, cols = q.cols, groups = q.groups, bits = q.grid.bits, pf = 32 / bits
        let mask = UInt32(q.grid.maxCode)
        var out: [PackedTensor] = []
        func words(_ count: Int, _ word: (Int) -> UInt32) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: count * 4)
            b.withUnsafeMutableBytes { raw in
                let w = raw.bindMemory(to: UInt32.self)
                for i in 0 ..< count { w[i] = word(i).littleEndian }
            }
            return b
        }
        func gIdx() -> [UInt8] { words(cols) { UInt32(bitPattern: Int32(q.group(ofColumn: $0))) } }
        let scaleBytesF16: (Bool) -> [UInt8] = { transposed in
            var b = [UInt8](repeating: 0, count: rows * groups * 2)
            b.withUnsafeMutableBytes { raw in
                let h = raw.bindMemory(to: UInt16.self)
                for r in 0 ..< rows { for g in 0 ..< groups {
                    h[transposed ? g * rows + r : r * groups + g] = HalfFloat.f16Bits(q.scales[r * groups + g]).littleEndian
                } }
            }
            return b
        }
        switch format {
        case .compressedTensors:
            let wpr = (cols + pf - 1) / pf
            out.append(try PackedTensor(specs[0].name, .i32, specs[0].shape, words(rows * wpr) { i in
                let r = i / wpr, w = i % wpr
                var v: UInt32 = 0
                for k in 0 ..< pf where w * pf + k < cols { v |= (UInt32(q.codes[r * cols + w * pf + k]) & mask) << UInt32(bits * k) }
                return v
            }))
            var scale = [UInt8](repeating: 0, count: specs[1].byteCount)
            scale.withUnsafeMutableBytes { raw in
                switch q.grid.scaleType {
                case .f16: let h = raw.bindMemory(to: UInt16.self); for i in 0 ..< rows * groups { h[i] = HalfFloat.f16Bits(q.scales[i]).littleEndian }
                case .bf16: let h = raw.bindMemory(to: UInt16.self); for i in 0 ..< rows * groups { h[i] = HalfFloat.bf16Bits(q.scales[i]).littleEndian }
                default: let f = raw.bindMemory(to: UInt32.self); for i in 0 ..< rows * groups { f[i] = q.scales[i].bitPattern.littleEndian }
                }
            }
            out.append(try PackedTensor(specs[1].name, q.grid.scaleType, specs[1].shape, scale))
            var shape = [UInt8](repeating: 0, count: 16)
            shape.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: Int64(rows).littleEndian, toByteOffset: 0, as: Int64.self)
                raw.storeBytes(of: Int64(cols).littleEndian, toByteOffset: 8, as: Int64.self)
            }
            out.append(try PackedTensor(specs[2].name, .i64, [2], shape))
            var next = 3
            if !q.grid.symmetric {
                let wr = (rows + pf - 1) / pf
                out.append(try PackedTensor(specs[3].name, .i32, specs[3].shape, words(wr * groups) { i in
                    let w = i / groups, g = i % groups
                    var v: UInt32 = 0
                    for k in 0 ..< pf where w * pf + k < rows { v |= (UInt32(q.zeros[(w * pf + k) * groups + g]) & mask) << UInt32(bits * k) }
                    return v
                }))
                next = 4
            }
            if actOrder { out.append(try PackedTensor(specs[next].name, .i32, [cols], gIdx())) }
        case .gptq:
            out.append(try PackedTensor(specs[0].name, .i32, specs[0].shape, words(cols / pf * rows) { i in
                let w = i / rows, r = i % rows
                var v: UInt32 = 0
                for k in 0 ..< pf { v |= (UInt32(q.codes[r * cols + w * pf + k]) & mask) << UInt32(bits * k) }
                return v
            }))
            let wpr = rows / pf
            out.append(try PackedTensor(specs[1].name, .i32, specs[1].shape, words(groups * wpr) { i in
                let g = i / wpr, w = i % wpr
                var v: UInt32 = 0
                for k in 0 ..< pf { v |= ((UInt32(q.zeros[(w * pf + k) * groups + g]) &- 1) & mask) << UInt32(bits * k) }
                return v
            }))
            out.append(try PackedTensor(specs[2].name, .f16, specs[2].shape, scaleBytesF16(true)))
            out.append(try PackedTensor(specs[3].name, .i32, [cols], gIdx()))
        case .awq:
            let wpr = rows / pf
            out.append(try PackedTensor(specs[0].name, .i32, specs[0].shape, words(cols * wpr) { i in
                let c = i / wpr, w = i % wpr
                var v: UInt32 = 0
                for k in 0 ..< pf { v |= (UInt32(q.codes[(w * pf + awqOrder[k]) * cols + c]) & mask) << UInt32(bits * k) }
                return v
            }))
            out.append(try PackedTensor(specs[1].name, .i32, specs[1].shape, words(groups * wpr) { i in
                let g = i / wpr, w = i % wpr
                var v: UInt32 = 0
                for k in 0 ..< pf { v |= (UInt32(q.zeros[(w * pf + awqOrder[k]) * groups + g]) & mask) << UInt32(bits * k) }
                return v
            }))
            out.append(try PackedTensor(specs[2].name, .f16, specs[2].shape, scaleBytesF16(true)))
        }
        return out
    }

    /// config.json's `quantization_config` (and, for GPTQ, quantize_config.json's content).
    /// AWQ always says `zero_point: true`: its GEMM kernels read `qzeros`, which a symmetric
    /// grid fills with 8 (the same dequantized values).
    public static func quantizationConfig(_ format: ExportFormat, grid: QuantGrid, actOrder: Bool, method: String,
                                          damp: Double = 0.01) -> [String: Any] {
        switch format {
        case .compressedTensors:
            let weights: [String: Any] = [
                "actorder": actOrder ? "group" as Any : NSNull(), "block_structure": NSNull(), "dynamic": false,
                "group_size": grid.groupSize, "num_bits": grid.bits, "observer": "minmax", "observer_kwargs": [String: Any](),
                "strategy": "group", "symmetric": grid.symmetric, "type": "int",
            ]
            return [
                "config_groups": ["group_0": ["input_activations": NSNull(), "output_activations": NSNull(),
                                              "targets": ["Linear"], "weights": weights] as [String: Any]],
                "format": "pack-quantized", "global_compression_ratio": NSNull(), "ignore": ["lm_head"],
                "kv_cache_scheme": NSNull(), "quant_method": "compressed-tensors", "quantization_status": "compressed",
            ]
        case .gptq:
            return ["bits": grid.bits, "group_size": grid.groupSize, "desc_act": actOrder, "sym": grid.symmetric,
                    "damp_percent": damp, "static_groups": false, "true_sequential": false, "quant_method": "gptq",
                    "checkpoint_format": "gptq", "model_file_base_name": "model", "meta": ["quantizer": "quantkit:\(method)"]]
        case .awq:
            return ["quant_method": "awq", "bits": grid.bits, "group_size": grid.groupSize, "zero_point": true,
                    "version": "gemm", "modules_to_not_convert": NSNull()]
        }
    }
}
