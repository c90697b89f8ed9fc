import Planning
import QKCore
import Testing

/// KV-cache sizes against what llama.cpp reports allocating (llama-perplexity's
/// `llama_kv_cache: size = … (N cells, L layers, s/S seqs), K (type): … MiB, V (type): … MiB`).
@Suite struct KVCacheTests {
    /// Every recorded run: each cache's cells, layers and K/V MiB (printed with 2 decimals),
    /// for several contexts (incl. one llama.cpp rounds up to 256), cache types, a smaller
    /// ubatch, parallel sequences (one stream each, or unified with -kvu) and --swa-full; Gemma-3's sliding-window cache included.
    @Test(arguments: Fixtures.names)
    func matchesLlamaCpp(_ name: String) throws {
        let shape = try Fixtures.shape(name)
        let runs = try #require(Fixtures.section("kv")[name])
        #expect(runs.count >= 20)
        for (label, value) in runs.sorted(by: { $0.key < $1.key }) {
            let run = try #require(value as? [String: Any])
            let caches = try #require(run["caches"] as? [[String: Any]])
            let seqs = run["n_seq_max"] as! Int
            let requested = Int(label.dropFirst().prefix { $0.isNumber })!  // "c1000-…": -c per sequence
            var o = ContextOptions(context: requested * seqs,
                                   typeK: try KVCache.cacheType(caches[0]["k_type"] as! String),
                                   typeV: try KVCache.cacheType(caches[0]["v_type"] as! String))
            o.sequences = seqs
            o.unified = seqs > 1 && caches[0]["streams"] as! Int == 1  // -kvu: one stream for all sequences
            o.batch = run["n_batch"] as! Int
            o.ubatch = label.contains("ub256") ? 256 : 512
            o.swaFull = run["swa_full"] as! Bool
            #expect(o.paddedContext == run["n_ctx"] as! Int, "\(name) \(label): n_ctx")
            #expect(o.effectiveUbatch == run["n_ubatch"] as! Int, "\(name) \(label): n_ubatch")
            let kv = try KVCache.size(shape, o)
            // llama.cpp logs the full-attention cache first, then the sliding-window one.
            let ours = [kv.full] + (kv.slidingWindow.map { [$0] } ?? [])
            #expect(ours.count == caches.count, "\(name) \(label): number of caches")
            for (c, r) in zip(ours, caches) {
                #expect(c.cells == r["cells"] as! Int, "\(name) \(label): cells")
                #expect(c.layers == r["layers"] as! Int, "\(name) \(label): layers")
                #expect(abs(ByteSize(bytes: c.kBytes).mib - (r["k_mib"] as! Double)) <= 0.0051, "\(name) \(label): K \(ByteSize(bytes: c.kBytes).mib)")
                #expect(abs(ByteSize(bytes: c.vBytes).mib - (r["v_mib"] as! Double)) <= 0.0051, "\(name) \(label): V \(ByteSize(bytes: c.vBytes).mib)")
            }
            if let out = run["output_mib"] as? Double {
                #expect(abs(ByteSize(bytes: ComputeBuffer.outputBuffer(shape, o)).mib - out) <= 0.0051, "\(name) \(label): output buffer")
            }
            if let compute = run["compute_mib"] as? Double {
                let est = ByteSize(bytes: ComputeBuffer.estimate(shape, o)).mib
                #expect(abs(est / compute - 1) <= 0.05, "\(name) \(label): compute \(est) MiB vs llama.cpp \(compute) MiB")
            }
        }
    }

    /// Gemma-3 270M at 4096 tokens: 3 full layers × 4096 cells and 15 SWA layers × 1024 cells
    /// (512-token window + 512-token ubatch, padded to 256), as llama.cpp allocates.
    @Test func gemmaSlidingWindowLayers() throws {
        let shape = try Fixtures.shape("gemma3")
        #expect(shape.slidingWindow == 512)
        #expect(shape.isSlidingWindowLayer.enumerated().allSatisfy { $0.element == ($0.offset % 6 != 5) })
        let kv = try KVCache.size(shape, ContextOptions(context: 4096))
        #expect(kv.full.cells == 4096 && kv.full.layers == 3)
        #expect(kv.slidingWindow?.cells == 1024 && kv.slidingWindow?.layers == 15)
        // Each layer: 1 KV head × 256 wide, f16: 512 bytes per cell for K and for V.
        #expect(kv.bytes == 3 * 4096 * 1024 + 15 * 1024 * 1024)
    }

    /// GQA: a model with 3 KV heads of 9 stores a third of what full multi-head attention would.
    @Test func honoursGQA() throws {
        let shape = try Fixtures.shape("smollm2")
        let kv = try KVCache.size(shape, ContextOptions(context: 8192))
        #expect(kv.bytes == 30 * 8192 * 2 * (3 * 64) * 2)
    }

    @Test func rejectsUnknownCacheTypes() {
        #expect(throws: (any Error).self) { try KVCache.cacheType("q4_k") }
        #expect((try? KVCache.cacheType("q8_0")) == .q8_0)
    }
}
