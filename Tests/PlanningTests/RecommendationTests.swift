import Planning
import Quantization
import Testing

/// The recommendation: best measured type that fits, largest context, GPU layers.
@Suite struct RecommendationTests {
    let llama3 = StandardModels.named("Llama-3.1-8B")!.shape()

    /// The choice fits with the headroom and every type ranked better by llama.cpp's measured
    /// KLD does not.
    @Test(arguments: ["6GB", "8GB", "12GB", "24GB"])
    func bestTypeThatFits(_ memory: String) throws {
        let budget = MemoryBudget(memory: try ByteSize(parsing: memory))
        let o = ContextOptions(context: 8192)
        let r = try Recommender.recommend(llama3, context: o, budget: budget)
        let c = try #require(r.choice)
        let usable = Int(Double(budget.memory!.bytes) * 0.9)
        #expect(c.totalBytes <= usable)
        let rank = QualityTable.qualityOrder
        let better = rank.prefix(while: { $0 != c.fileType })
        for t in better {
            let e = try MemoryPlanner.estimate(llama3, weights: WeightSizes.plan(llama3, fileType: t), context: o)
            #expect(e.totalBytes > usable, "\(t.name) fits \(memory) but was not chosen")
        }
        #expect(r.reasons.contains { $0.contains(QualityTable.llamaCppSource) })
    }

    /// 8 GB and 8K context for Llama-3.1-8B: Q5_K_M (Q6_K's 6.59 GB of weights + 1.07 GB of f16
    /// KV cache exceed 90 % of 8 GB); a q8_0 cache (0.57 GB) still leaves Q6_K 0.2 GB short but
    /// lets Q5_K_M run a longer context, and a q4_0 cache (0.30 GB) lets Q6_K fit.
    @Test func llama8BOn8GB() throws {
        let budget = MemoryBudget(memory: try ByteSize(parsing: "8GB"))
        let f16 = try Recommender.recommend(llama3, context: ContextOptions(context: 8192), budget: budget)
        #expect(f16.choice?.fileType == .q5_K_M)
        let q8 = try Recommender.recommend(llama3, context: ContextOptions(context: 8192, typeK: .q8_0, typeV: .q8_0), budget: budget)
        #expect(q8.choice?.fileType == .q5_K_M)
        #expect((q8.maxContext ?? 0) > (f16.maxContext ?? .max))
        let q4 = try Recommender.recommend(llama3, context: ContextOptions(context: 8192, typeK: .q4_0, typeV: .q4_0), budget: budget)
        #expect(q4.choice?.fileType == .q6_K)
    }

    /// The largest context fits and 256 more tokens do not.
    @Test func largestContext() throws {
        let budget = MemoryBudget(memory: try ByteSize(parsing: "8GB"))
        let o = ContextOptions(context: 4096)
        let n = try #require(try Recommender.largestContext(llama3, fileType: .q4_K_M, context: o, budget: budget))
        #expect(n % 256 == 0 && n < llama3.contextLength)
        let w = try WeightSizes.plan(llama3, fileType: .q4_K_M)
        func total(_ c: Int) throws -> Int {
            try MemoryPlanner.estimate(llama3, weights: w, context: ContextOptions(context: c)).totalBytes
        }
        #expect(try total(n) <= 7_200_000_000)
        #expect(try total(n + 256) > 7_200_000_000)
    }

    /// A 70B on a 24 GB GPU with 64 GB of RAM: as many layers on the GPU as fit, the rest in RAM.
    @Test func partialOffload() throws {
        let shape = StandardModels.named("70B")!.shape()
        let budget = MemoryBudget(gpu: try ByteSize(parsing: "24GB"), ram: try ByteSize(parsing: "64GB"))
        let o = ContextOptions(context: 4096)
        let r = try Recommender.recommend(shape, context: o, budget: budget)
        let c = try #require(r.choice)
        let s = try #require(r.offload)
        #expect(!s.isFullOffload && s.gpuLayers > 0)
        #expect(s.gpuBytes <= 21_600_000_000 && s.ramBytes <= 57_600_000_000)
        #expect(MemoryPlanner.split(c, gpuLayers: s.gpuLayers + 1).gpuBytes > 21_600_000_000)
        // Both sides together hold everything once (plus the duplicated compute buffer).
        #expect(s.gpuBytes + s.ramBytes == c.totalBytes + c.computeBytes)
        #expect(r.fullOffloadChoice == nil || r.fullOffloadChoice!.weights.bytes < 21_600_000_000)
    }

    /// llama.cpp's `-ngl` order: 1 offloads the output layer only, then the last layers; tied
    /// embeddings (Gemma-3) are copied to the GPU for the output layer and also stay in RAM.
    @Test func nglOrder() throws {
        let shape = try Fixtures.shape("gemma3")
        let e = try MemoryPlanner.estimate(shape, weights: WeightSizes.plan(shape, fileType: .q8_0),
                                           context: ContextOptions(context: 4096))
        let w = e.weights
        let none = MemoryPlanner.split(e, gpuLayers: 0)
        #expect(none.gpuBytes == 0 && none.ramBytes == e.totalBytes)
        let one = MemoryPlanner.split(e, gpuLayers: 1)
        #expect(one.gpuBytes == w.outputLayerBytes + e.computeBytes && w.outputLayerBytes > w.inputBytes)
        let two = MemoryPlanner.split(e, gpuLayers: 2)
        #expect(two.gpuBytes - one.gpuBytes == w.layerBytes[17] + e.kvCache.layerBytes[17])
        let all = MemoryPlanner.split(e, gpuLayers: 99)
        #expect(all.isFullOffload && all.gpuLayers == 19)
        #expect(all.ramBytes == w.inputBytes + e.outputBufferBytes)
        #expect(all.gpuBytes == e.totalBytes - w.inputBytes - e.outputBufferBytes - w.outputBytes + w.outputLayerBytes)
    }

    /// More memory never gives a worse type.
    @Test func monotonic() throws {
        var last = Double.infinity
        for gb in stride(from: 4, through: 40, by: 2) {
            let r = try Recommender.recommend(llama3, context: ContextOptions(context: 8192),
                                              budget: MemoryBudget(memory: ByteSize(bytes: gb * 1_000_000_000)))
            let kld = r.choice.flatMap { QualityTable.reference($0.fileType) }?.meanKLD ?? .infinity
            #expect(kld <= last)
            last = kld
        }
    }

    /// Nothing fits: the answer says so and names the smallest type's need.
    @Test func nothingFits() throws {
        let r = try Recommender.recommend(llama3, context: ContextOptions(context: 8192), budget: MemoryBudget(memory: try ByteSize(parsing: "2GB")))
        #expect(r.choice == nil)
        #expect(r.reasons.last?.hasPrefix("nothing fits") == true)
    }
}
