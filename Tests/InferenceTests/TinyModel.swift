import Foundation
import GGUF
import QKCore
import QuantFormats

/// A small random llama/qwen2/gemma3 GGUF (F32 weights, or quantized to `type`) for engine tests
/// that need no real model: 2 layers, n_embd 64, 4 heads (2 KV), vocabulary 96.
enum TinyModel {
    static let embd = 64, ff = 128, vocab = 96, heads = 4, kvHeads = 2, layers = 2

    static func write(to path: String, arch: String = "llama", type: GGMLType = .f32,
                      omit: Set<String> = [], context: Int = 256, seed: UInt64 = 1) throws {
        let headDim = embd / heads
        var meta: GGUFMetadata = [:]
        meta["general.architecture"] = .string(arch)
        meta["\(arch).block_count"] = .uint32(UInt32(layers))
        meta["\(arch).embedding_length"] = .uint32(UInt32(embd))
        meta["\(arch).feed_forward_length"] = .uint32(UInt32(ff))
        meta["\(arch).attention.head_count"] = .uint32(UInt32(heads))
        meta["\(arch).attention.head_count_kv"] = .uint32(UInt32(kvHeads))
        meta["\(arch).attention.layer_norm_rms_epsilon"] = .float32(1e-5)
        meta["\(arch).context_length"] = .uint32(UInt32(context))
        meta["\(arch).rope.freq_base"] = .float32(arch == "gemma3" ? 1_000_000 : 10000)
        if arch == "gemma3" {
            meta["\(arch).attention.sliding_window"] = .uint32(8)
            meta["\(arch).attention.key_length"] = .uint32(UInt32(headDim))
            meta["\(arch).attention.value_length"] = .uint32(UInt32(headDim))
        }
        meta["\(arch).vocab_size"] = .uint32(UInt32(vocab))
        var shapes: [(String, [Int], Bool)] = [("token_embd.weight", [embd, vocab], true), ("output_norm.weight", [embd], false)]
        for i in 0 ..< layers {
            let p = "blk.\(i)."
            shapes += [(p + "attn_norm.weight", [embd], false), (p + "attn_q.weight", [embd, embd], true),
                       (p + "attn_k.weight", [embd, kvHeads * headDim], true), (p + "attn_v.weight", [embd, kvHeads * headDim], true),
                       (p + "attn_output.weight", [embd, embd], true), (p + "ffn_norm.weight", [embd], false),
                       (p + "ffn_gate.weight", [embd, ff], true), (p + "ffn_up.weight", [embd, ff], true),
                       (p + "ffn_down.weight", [ff, embd], true)]
            if arch == "qwen2" {
                shapes += [(p + "attn_q.bias", [embd], false), (p + "attn_k.bias", [kvHeads * headDim], false),
                           (p + "attn_v.bias", [kvHeads * headDim], false)]
            }
            if arch == "gemma3" {
                shapes += [(p + "attn_q_norm.weight", [headDim], false), (p + "attn_k_norm.weight", [headDim], false),
                           (p + "post_attention_norm.weight", [embd], false), (p + "post_ffw_norm.weight", [embd], false)]
            }
        }
        shapes.removeAll { omit.contains($0.0) }
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        var infos: [GGUFTensorInfo] = []
        var blobs: [[UInt8]] = []
        for (name, shape, isMatrix) in shapes {
            let n = shape.reduce(1, *)
            let values: [Float] = (0 ..< n).map { _ in isMatrix ? next() * 0.3 : 1 + 0.1 * next() }
            let t: GGMLType = isMatrix ? type : .f32
            infos.append(GGUFTensorInfo(name: name, type: t, shape: shape))
            if t == .f32 {
                blobs.append(values.withUnsafeBytes { Array($0) })
            } else {
                var out = [UInt8](repeating: 0, count: t.byteCount(elements: n)!)
                try values.withUnsafeBufferPointer { src in
                    try out.withUnsafeMutableBytes { dst in
                        try QuantCodec.quantize(t, src: src.baseAddress!, dst: dst.baseAddress!, rows: n / shape[0], n: shape[0], importance: nil)
                    }
                }
                blobs.append(out)
            }
        }
        let w = try GGUFWriter(path: path, metadata: meta, tensors: infos)
        for b in blobs { try b.withUnsafeBytes { try w.writeTensor($0) } }
        try w.finish()
    }
}
