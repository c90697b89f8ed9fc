import GGUF
import QKCore
import Quantization

/// Everything `quant plan` needs to know about a model: its tensors (names and shapes as
/// llama.cpp names them) and the hyper-parameters that size the KV cache and compute buffers.
///
/// Built from a GGUF file (``init(gguf:name:)``), from a Hugging Face `config.json` with or
/// without its weights (``HFConfig``), or from a standard shape (``StandardModels``). No weight
/// data is read: shapes are enough for exact sizes, because llama.cpp's mix rules look only at
/// names, shapes and hyper-parameters.
public struct ModelShape: Sendable {
    /// A display name ("SmolLM2-135M-Instruct.Q4_1.gguf", "Llama-3-8B").
    public var name: String
    /// llama.cpp architecture name ("llama", "qwen2", "qwen3", "gemma3", …).
    public var architecture: String
    /// The tensors, with the type they have in the source (only used for COPY-like plans and
    /// for tensors llama-quantize never converts, which keep their type).
    public var tensors: [MixTensor]
    /// The hyper-parameters llama.cpp's mix rules read.
    public var mix: MixModel
    /// `<arch>.context_length`: the training context, the default `--ctx`.
    public var contextLength: Int
    /// Rows of the token embedding (the vocabulary size llama.cpp allocates logits for).
    public var vocabSize: Int
    /// Per-head key and value widths (`attention.key_length` / `value_length`; default n_embd / n_head).
    public var keyLength: Int
    public var valueLength: Int
    /// Sliding-window size in tokens (`attention.sliding_window`), 0 when no layer uses one.
    public var slidingWindow: Int
    /// Per layer: true when llama.cpp gives the layer a sliding-window attention cache.
    public var isSlidingWindowLayer: [Bool]
    /// Remarks on how the shape was obtained (e.g. a parameter-count mismatch with the checkpoint).
    public var notes: [String] = []

    public init(name: String, architecture: String, tensors: [MixTensor], mix: MixModel, contextLength: Int,
                vocabSize: Int, keyLength: Int, valueLength: Int, slidingWindow: Int = 0, isSlidingWindowLayer: [Bool]? = nil) {
        self.name = name
        self.architecture = architecture
        self.tensors = tensors
        self.mix = mix
        self.contextLength = contextLength
        self.vocabSize = vocabSize
        self.keyLength = keyLength
        self.valueLength = valueLength
        self.slidingWindow = slidingWindow
        self.isSlidingWindowLayer = isSlidingWindowLayer ?? Array(repeating: false, count: mix.layerCount)
    }

    public var layerCount: Int { mix.layerCount }
    public var embeddingLength: Int { mix.embeddingLength }
    /// Number of weights (elements of every tensor), as llama.cpp counts `n_elements`.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// K and V row widths of layer `il` (llama.cpp's `n_embd_k_gqa(il)`, `n_embd_v_gqa(il)`).
    public func kvWidths(layer il: Int) -> (k: Int, v: Int) {
        (keyLength * mix.headCountKV[il], valueLength * mix.headCountKV[il])
    }

    /// llama.cpp's sliding-window layer pattern per architecture (`load_swa_pattern` defaults):
    /// every `period`-th layer (the last of each period) is a full-attention layer. Only these
    /// architectures give SWA layers a separate, smaller cache.
    static let slidingWindowPeriod: [String: Int] = ["gemma3": 6, "gemma2": 2, "cohere2": 4]

    /// The SWA flags llama.cpp derives for `layers` layers with the given period
    /// (`set_swa_pattern(n_pattern, dense_first = false)`: `il % n < n - 1`; 0 means every layer).
    public static func slidingWindowLayers(count layers: Int, period: Int) -> [Bool] {
        (0 ..< layers).map { period == 0 || $0 % period < period - 1 }
    }

    /// Reads a GGUF model's tensors and hyper-parameters.
    public init(gguf: GGUFModel, name: String? = nil) throws {
        let mix = try MixModel(gguf: gguf)
        let arch = mix.architecture
        let p = arch + "."
        func int(_ key: String) -> Int? { gguf[p + key]?.int }
        let heads = max(mix.firstLayerHeads, 1)
        let embd = mix.embeddingLength
        let tokenRows = gguf.tensor(named: "token_embd.weight")?.shape.last
        var swa = int("attention.sliding_window") ?? 0
        if arch == "gemma2" && swa == 0 { swa = 4096 }
        var flags = Array(repeating: false, count: mix.layerCount)
        if swa > 0, let period = Self.slidingWindowPeriod[arch] {
            if let arr = gguf[p + "attention.sliding_window_pattern"]?.array, arr.count == mix.layerCount {
                flags = arr.values.map { $0.bool ?? (($0.int ?? 0) != 0) }
            } else {
                flags = Self.slidingWindowLayers(count: mix.layerCount, period: int("attention.sliding_window_pattern") ?? period)
            }
        } else {
            swa = 0
        }
        let path = gguf.paths[0]
        self.init(name: name ?? String(path.split(separator: "/").last ?? Substring(path)), architecture: arch,
                  tensors: gguf.tensors.map { MixTensor(name: $0.name, shape: $0.shape, type: $0.type) }, mix: mix,
                  contextLength: int("context_length") ?? 4096,
                  vocabSize: int("vocab_size") ?? tokenRows ?? gguf["tokenizer.ggml.tokens"]?.array?.count ?? 0,
                  keyLength: int("attention.key_length") ?? embd / heads,
                  valueLength: int("attention.value_length") ?? embd / heads,
                  slidingWindow: swa, isSlidingWindowLayer: flags)
    }

    /// Opens `path` as a GGUF file, a Hugging Face checkpoint directory, or a `config.json`.
    public static func load(path: String) throws -> ModelShape {
        if path.hasSuffix(".json") { return try HFConfig(path: path).shape() }
        if isDirectory(path) { return try HFConfig(directory: path).shape() }
        return try ModelShape(gguf: GGUFModel(path: path))
    }
}
