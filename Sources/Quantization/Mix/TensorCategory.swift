#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The broad role of a tensor, as llama.cpp's quantizer sees it (`tensor_category`).
///
/// Decided from the name alone, by the first matching rule of ``rules``: exact names for the
/// output and token embeddings, substrings for the rest. Substrings make it architecture
/// independent (and sometimes surprising: `ffn_up_exps`, `ffn_up_shexp` and `ffn_up` are all
/// ``ffnUp``; `attn_q_a.weight` is ``other`` because it does not contain `attn_q.weight`).
public enum TensorCategory: String, Sendable, CaseIterable {
    case tokenEmbedding = "token_embd"
    case attentionQ = "attn_q"
    case attentionV = "attn_v"
    case attentionK = "attn_k"
    case attentionQKV = "attn_qkv"
    case attentionKVB = "attn_kv_b"
    case attentionOutput = "attn_output"
    case ffnUp = "ffn_up"
    case ffnGate = "ffn_gate"
    case ffnDown = "ffn_down"
    case output = "output"
    case other = "other"

    /// How a category is recognised from a tensor name.
    enum Match { case exact(String), contains(String) }

    /// The classification rules, in llama.cpp's order (first match wins).
    static let rules: [(Match, TensorCategory)] = [
        (.exact("output.weight"), .output),
        (.exact("token_embd.weight"), .tokenEmbedding),
        (.exact("per_layer_token_embd.weight"), .tokenEmbedding),
        (.contains("attn_qkv.weight"), .attentionQKV),
        (.contains("attn_kv_b.weight"), .attentionKVB),
        (.contains("attn_v.weight"), .attentionV),
        (.contains("attn_k.weight"), .attentionK),
        (.contains("attn_q.weight"), .attentionQ),
        (.contains("attn_output.weight"), .attentionOutput),
        (.contains("ffn_up"), .ffnUp),
        (.contains("ffn_gate"), .ffnGate),
        (.contains("ffn_down"), .ffnDown),
    ]

    /// The rules' strings as C strings, converted once.
    private static let rulesC: [ContiguousArray<CChar>] = rules.map {
        switch $0.0 { case .exact(let s), .contains(let s): s.utf8CString }
    }

    /// The category of the tensor called `name`.
    public init(tensorName name: String) {
        self = name.withCString { h in
            var k = 0
            while k < Self.rules.count {
                let (m, c) = Self.rules[k]
                switch m {
                case .exact(let s) where name == s: return c
                case .contains where Self.rulesC[k].withUnsafeBufferPointer({ strstr(h, $0.baseAddress!) }) != nil: return c
                default: k += 1
                }
            }
            return .other
        }
    }

    /// attn_v, and the fused tensors that contain it (attn_qkv, attn_kv_b): the tensors that
    /// share the "attn_v" rules and the `i_attention_wv` counter.
    public var isAttentionVLike: Bool { self == .attentionV || self == .attentionQKV || self == .attentionKVB }
}

/// Which tensors llama-quantize converts at all (`tensor_allows_quantization`); every other
/// tensor is copied with its type unchanged.
public enum TensorQuantizability {
    /// Substrings that exclude a tensor, with why (checked on every architecture).
    public static let excludedSubstrings: [(String, String)] = [
        ("_norm.weight", "norm"),
        ("ffn_gate_inp.weight", "expert router"),
        ("ffn_gate_tid2eid.weight", "token→expert routing table"),
        ("altup", "tiny altup tensor"),
        ("laurel", "tiny laurel tensor"),
        ("per_layer_model_proj", "small per-layer projection"),
        ("ssm_conv1d", "small conv1d"),
        ("shortconv.conv.weight", "small conv1d"),
        ("indexer.k_proj.weight", "tiny indexer projection"),
        ("indexer.q_proj.weight", "tiny indexer projection"),
        ("time_mix_first.weight", "small RWKV tensor"),
        ("time_mix_w0.weight", "small RWKV tensor"),
        ("time_mix_w1.weight", "small RWKV tensor"),
        ("time_mix_w2.weight", "small RWKV tensor"),
        ("time_mix_v0.weight", "small RWKV tensor"),
        ("time_mix_v1.weight", "small RWKV tensor"),
        ("time_mix_v2.weight", "small RWKV tensor"),
        ("time_mix_a0.weight", "small RWKV tensor"),
        ("time_mix_a1.weight", "small RWKV tensor"),
        ("time_mix_a2.weight", "small RWKV tensor"),
        ("time_mix_g1.weight", "small RWKV tensor"),
        ("time_mix_g2.weight", "small RWKV tensor"),
        ("time_mix_decay_w1.weight", "small RWKV tensor"),
        ("time_mix_decay_w2.weight", "small RWKV tensor"),
        ("time_mix_lerp_fused.weight", "small RWKV tensor"),
        ("attn_rel_b.weight", "relative position bias"),
        (".position_embd", "multimodal position embedding"),
        ("sam.pos_embd", "multimodal position embedding"),
        ("sam.neck.", "multimodal tensor"),
        ("sam.net_", "multimodal tensor"),
        (".rel_pos", "multimodal tensor"),
        (".patch_embd", "multimodal patch embedding"),
        (".patch_merger", "multimodal patch merger"),
        ("a.rvq.codebook", "audio codebook"),
        ("mm.a.code_embd", "audio codebook"),
    ]

    /// The substrings as C strings, converted once (this runs ~35 times per tensor).
    private static let excludedC = excludedSubstrings.map(\.0.utf8CString)

    /// Extra substrings excluded on architecture `glm5-next` only.
    public static let excludedSubstringsGLM5Next: [String] = [
        "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
        "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight",
        "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight",
    ]

    /// Exact names never quantized (positional embeddings and BERT token types).
    public static let excludedNames: [String] = ["position_embd.weight", "token_types.weight"]

    /// ggml's `ggml_n_dims`: the number of dimensions once trailing 1s are dropped (at least 1).
    public static func dimensionCount(_ shape: [Int]) -> Int {
        var n = shape.count
        while n > 1 && shape[n - 1] == 1 { n -= 1 }
        return max(n, 1)
    }

    /// Why llama-quantize leaves this tensor alone, or nil when it quantizes it.
    /// - Parameters:
    ///   - quantizeOutput: false for `--leave-output-tensor` (keep `output.weight`).
    ///   - onlyCopy: true for the `COPY` file type (nothing is quantized).
    public static func exclusionReason(name: String, shape: [Int], architecture: String,
                                       quantizeOutput: Bool = true, onlyCopy: Bool = false) -> String? {
        if onlyCopy { return "COPY" }
        if dimensionCount(shape) < 2 { return "1-D" }
        // llama.cpp tests `name.rfind("weight") == name.size() - 6`; for a 5-byte name both sides
        // are npos, so such names count as weights too.
        if !name.hasSuffix("weight") && name.utf8.count != 5 { return "not a weight" }
        if !quantizeOutput && name == "output.weight" { return "--leave-output-tensor" }
        if excludedNames.contains(name) { return "position/token-type embedding" }
        return name.withCString { h -> String? in
            var k = 0
            while k < excludedC.count {
                if excludedC[k].withUnsafeBufferPointer({ strstr(h, $0.baseAddress!) }) != nil { return excludedSubstrings[k].1 }
                k += 1
            }
            if architecture == "glm5-next" {
                for s in excludedSubstringsGLM5Next where strstr(h, s) != nil { return "small glm5-next tensor" }
            }
            return nil
        }
    }

    /// True when llama-quantize would quantize this tensor (see ``exclusionReason``).
    public static func allowsQuantization(name: String, shape: [Int], architecture: String,
                                          quantizeOutput: Bool = true, onlyCopy: Bool = false) -> Bool {
        exclusionReason(name: name, shape: shape, architecture: architecture,
                        quantizeOutput: quantizeOutput, onlyCopy: onlyCopy) == nil
    }
}

/// llama.cpp's tensor naming helpers: block index and processing order.
public enum TensorOrder {
    /// The block index as C's `sscanf(name, "blk.%d.", &i)` reads it (nil when it reads none).
    public static func layerIndex(_ name: String) -> Int? {
        var s = name
        return s.withUTF8 { b -> Int? in
            guard b.count > 4, b[0] == UInt8(ascii: "b"), b[1] == UInt8(ascii: "l"), b[2] == UInt8(ascii: "k"),
                  b[3] == UInt8(ascii: ".") else { return nil }
            var i = 4
            while i < b.count && (b[i] == 0x20 || (b[i] >= 0x09 && b[i] <= 0x0D)) { i += 1 }
            var negative = false
            if i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
                negative = b[i] == UInt8(ascii: "-")
                i += 1
            }
            var v = 0, digits = 0
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 && digits < 18 {
                v = v * 10 + Int(b[i] - 0x30)
                digits += 1
                i += 1
            }
            return digits == 0 ? nil : negative ? -v : v
        }
    }

    /// llama.cpp's `weight_name_comparer`: by block index (-1 for tensors outside blocks),
    /// then by name bytes. llama-quantize processes (and writes) tensors in this order, and the
    /// mix counters (`i_attention_wv`, `i_ffn_down`, …) count in it.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        let la = layerIndex(a) ?? -1, lb = layerIndex(b) ?? -1
        return la != lb ? la < lb : bytesPrecede(a, b)
    }

    /// The permutation that puts `names` in llama.cpp's order (see ``precedes(_:_:)``).
    public static func sortedIndices(_ names: [String]) -> [Int] {
        let layers = names.map { layerIndex($0) ?? -1 }
        return names.indices.sorted { i, j in
            layers[i] != layers[j] ? layers[i] < layers[j] : bytesPrecede(names[i], names[j])
        }
    }

    /// `strcmp(a, b) < 0` (`std::string` comparison): byte-wise, a prefix first.
    static func bytesPrecede(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                var i = 0
                while i < n {
                    if x[i] != y[i] { return x[i] < y[i] }
                    i += 1
                }
                return x.count < y.count
            }
        }
    }
}

extension String {
    /// Substring test as C++ `find(...) != npos` (bytes; names hold no NUL). Uses C `strstr`:
    /// `String.contains(_:)` is far slower on Linux, and this runs ~40 times per tensor.
    func containsBytes(_ needle: String) -> Bool {
        withCString { h in needle.withCString { strstr(h, $0) != nil } }
    }
}
