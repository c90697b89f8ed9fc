import Quantization

/// What running one file type of a model needs: weights, KV cache, compute and output buffers.
public struct MemoryEstimate: Sendable {
    public let weights: WeightPlan
    public let kvCache: KVCacheSize
    /// Estimated compute buffer (``ComputeBuffer/estimate(_:_:flashAttention:)``).
    public let computeBytes: Int
    /// llama.cpp's output (logits) buffer.
    public let outputBufferBytes: Int

    public var fileType: FileType { weights.fileType }
    /// Everything together, as if all of it sat in one memory.
    public var totalBytes: Int { weights.bytes + kvCache.bytes + computeBytes + outputBufferBytes }
    public var total: ByteSize { ByteSize(bytes: totalBytes) }
}

/// Where the memory of a partially offloaded model goes (llama.cpp's `-ngl N`).
public struct OffloadSplit: Sendable, Equatable {
    /// llama.cpp's `-ngl` value: the output layer and the last `gpuLayers − 1` repeating layers
    /// are on the GPU.
    public let gpuLayers: Int
    public let layerCount: Int
    public let gpuBytes: Int
    public let ramBytes: Int
    /// All repeating layers and the output layer are on the GPU.
    public var isFullOffload: Bool { gpuLayers > layerCount }
    /// Repeating layers on the GPU.
    public var gpuRepeatingLayers: Int { max(gpuLayers - 1, 0) }
}

/// Sizes for every file type at one context setting.
public enum MemoryPlanner {
    /// The estimate for one file type.
    public static func estimate(_ shape: ModelShape, weights: WeightPlan, context o: ContextOptions) throws -> MemoryEstimate {
        MemoryEstimate(weights: weights, kvCache: try KVCache.size(shape, o),
                       computeBytes: ComputeBuffer.estimate(shape, o),
                       outputBufferBytes: ComputeBuffer.outputBuffer(shape, o))
    }

    /// Estimates for every file type llama-quantize can write for the model, largest first.
    public static func estimates(_ shape: ModelShape, context o: ContextOptions) throws -> [MemoryEstimate] {
        let kv = try KVCache.size(shape, o)
        let compute = ComputeBuffer.estimate(shape, o), output = ComputeBuffer.outputBuffer(shape, o)
        return WeightSizes.all(shape).sorted { $0.bytes > $1.bytes }.map {
            MemoryEstimate(weights: $0, kvCache: kv, computeBytes: compute, outputBufferBytes: output)
        }
    }

    /// Memory on each side with llama.cpp's `-ngl n`, placed as llama.cpp places it
    /// (`i_gpu_start = n_layer + 1 − n`): the output layer (output.weight, or a GPU copy of tied
    /// embeddings) goes to the GPU first, then the last `n − 1` repeating layers with their KV
    /// cache; the token embedding always stays in RAM. The compute buffer is counted on the GPU
    /// when anything is offloaded and also in RAM unless everything is (llama.cpp keeps a host
    /// compute buffer for the CPU layers); the output buffer is in RAM.
    public static func split(_ e: MemoryEstimate, gpuLayers n: Int) -> OffloadSplit {
        let w = e.weights
        let layers = w.layerBytes.count
        let n = max(0, min(n, layers + 1))
        let firstGPU = layers + 1 - n
        var gpu = 0, ram = w.inputBytes + e.outputBufferBytes
        for il in 0 ..< layers {
            let b = w.layerBytes[il] + e.kvCache.layerBytes[il]
            if il >= firstGPU { gpu += b } else { ram += b }
        }
        if n > 0 { gpu += w.outputLayerBytes + e.computeBytes } else { ram += w.outputBytes }
        if n <= layers { ram += e.computeBytes }
        return OffloadSplit(gpuLayers: n, layerCount: layers, gpuBytes: gpu, ramBytes: ram)
    }
}
