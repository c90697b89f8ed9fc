import QKCore

/// How llama.cpp is asked to set up its context: the settings that size the KV cache and the
/// compute buffer (llama-cli/llama-server/llama-perplexity's `-c`, `-ctk`, `-ctv`, `-np`, `-ub`,
/// `-b`, `--swa-full`, `-kvu`).
public struct ContextOptions: Sendable, Equatable {
    /// Requested context length in tokens (`-c`), for all sequences together.
    public var context: Int
    public var typeK: GGMLType = .f16
    public var typeV: GGMLType = .f16
    /// Parallel sequences (`-np`, llama.cpp's `n_seq_max`).
    public var sequences = 1
    /// One cache shared by all sequences (`-kvu`) instead of one stream per sequence.
    public var unified = false
    /// Logical and physical batch sizes (`-b`, `-ub`); llama.cpp's defaults.
    public var batch = 2048
    public var ubatch = 512
    /// `--swa-full`: sliding-window layers get a full-size cache.
    public var swaFull = false

    public init(context: Int, typeK: GGMLType = .f16, typeV: GGMLType = .f16) {
        self.context = context
        self.typeK = typeK
        self.typeV = typeV
    }

    /// llama.cpp's `n_ctx`: the request rounded up to 256 cells (per sequence when not unified).
    public var paddedContext: Int { cellsPerSequence * (unified ? 1 : sequences) }
    /// `n_ctx_seq`: cells of the full-attention cache per stream.
    public var cellsPerSequence: Int {
        let nCtx = pad(max(context, 1), 256)
        return unified ? nCtx : pad(max(nCtx / max(sequences, 1), 1), 256)
    }
    /// `n_ubatch` after llama.cpp's clamps (the batch never exceeds the context with causal attention).
    public var effectiveUbatch: Int { min(ubatch, min(batch, max(context, 1))) }
    /// K/V streams: one per sequence unless unified.
    public var streams: Int { unified ? 1 : max(sequences, 1) }
}

/// The KV cache llama.cpp allocates, split as llama.cpp logs it (`llama_kv_cache: size = …`):
/// one full-attention cache and, for sliding-window models, a second, smaller one.
public struct KVCacheSize: Sendable, Equatable {
    /// One of llama.cpp's caches.
    public struct Cache: Sendable, Equatable {
        /// Cells per stream (llama.cpp's `kv_size`).
        public var cells: Int
        /// Layers that store their K/V here.
        public var layers: Int
        public var kBytes: Int
        public var vBytes: Int
        public var bytes: Int { kBytes + vBytes }
    }
    /// The full-attention cache (all layers for models without sliding windows).
    public var full: Cache
    /// The sliding-window cache (nil when no layer uses one).
    public var slidingWindow: Cache?
    /// K+V bytes per layer (for partial offload: each layer's cache lives with the layer).
    public var layerBytes: [Int]

    public var bytes: Int { full.bytes + (slidingWindow?.bytes ?? 0) }
    public var size: ByteSize { ByteSize(bytes: bytes) }
}

/// llama.cpp's KV-cache allocation (`llama_kv_cache`, `llama_kv_cache_iswa`).
public enum KVCache {
    /// The cache llama.cpp allocates for `shape` under `options`.
    ///
    /// Each layer with KV heads gets K as `ctk` rows of `n_embd_k_gqa(il)` (head width × the
    /// layer's KV heads: GQA and per-layer head counts are honoured) and V likewise, one row per
    /// cell and stream. Full-attention layers get `n_ctx_seq` cells (the request rounded up to
    /// 256); sliding-window layers get `pad(min(n_ctx_seq, n_swa·(unified ? n_seq : 1) + n_ubatch), 256)`
    /// cells (the window plus one micro-batch, rounded to 256 "for performance"), or the full
    /// size with `--swa-full`.
    public static func size(_ shape: ModelShape, _ o: ContextOptions) throws -> KVCacheSize {
        let base = o.cellsPerSequence
        let swaCells = o.swaFull ? base
            : pad(min(base, shape.slidingWindow * (o.unified ? o.sequences : 1) + o.effectiveUbatch), 256)
        var full = KVCacheSize.Cache(cells: base, layers: 0, kBytes: 0, vBytes: 0)
        var swa = KVCacheSize.Cache(cells: swaCells, layers: 0, kBytes: 0, vBytes: 0)
        var perLayer = Array(repeating: 0, count: shape.layerCount)
        for il in 0 ..< shape.layerCount where shape.mix.headCountKV[il] > 0 {
            let (k, v) = shape.kvWidths(layer: il)
            guard k % o.typeK.blockSize == 0, v % o.typeV.blockSize == 0 else {
                throw QuantKitError("cache type \(k % o.typeK.blockSize != 0 ? o.typeK.name : o.typeV.name) needs rows that are a multiple of its block size; layer \(il) has K width \(k), V width \(v)")
            }
            let isSWA = shape.slidingWindow > 0 && shape.isSlidingWindowLayer[il]
            let cells = (isSWA ? swaCells : base) * o.streams
            let kb = o.typeK.rowSize(k) * cells, vb = o.typeV.rowSize(v) * cells
            if isSWA {
                swa.layers += 1; swa.kBytes += kb; swa.vBytes += vb
            } else {
                full.layers += 1; full.kBytes += kb; full.vBytes += vb
            }
            perLayer[il] = kb + vb
        }
        return KVCacheSize(full: full, slidingWindow: shape.slidingWindow > 0 ? swa : nil, layerBytes: perLayer)
    }

    /// The cache types llama.cpp accepts for `-ctk`/`-ctv`, by name.
    public static let cacheTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .iq4_nl, .q5_0, .q5_1]

    /// Parses a `-ctk`/`-ctv` value ("f16", "q8_0", "q4_0", …).
    public static func cacheType(_ name: String) throws -> GGMLType {
        guard let t = GGMLType(name: name), cacheTypes.contains(t) else {
            throw QuantKitError("unsupported cache type '\(name)' (allowed: \(cacheTypes.map { $0.name.lowercased() }.joined(separator: ", ")))")
        }
        return t
    }
}

/// `GGML_PAD`: `x` rounded up to a multiple of `n`.
func pad(_ x: Int, _ n: Int) -> Int { (x + n - 1) / n * n }
