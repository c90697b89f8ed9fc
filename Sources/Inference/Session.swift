import GGUF
import QKCore

/// A model ready to run: its configuration and weights, used in place from the mapped GGUF.
public final class LanguageModel: @unchecked Sendable {
    public let file: GGUFModel
    public let config: ModelConfig
    let decoder: any Decoder

    public convenience init(path: String) throws {
        try self.init(file: try GGUFModel(path: path))
    }

    /// Checks the architecture, shapes and types of every tensor the forward pass uses.
    public init(file: GGUFModel) throws {
        self.file = file
        config = try ModelConfig(gguf: file)
        let loader = WeightLoader(model: file)
        switch config.architecture {
        case .llama: decoder = try LlamaDecoder(loader, config)
        case .qwen2: decoder = try Qwen2Decoder(loader, config)
        case .gemma3: decoder = try Gemma3Decoder(loader, config)
        }
    }

    public var path: String { file.paths.first ?? "" }
}

/// One conversation with a model: the KV cache of the tokens seen so far, and the buffers and
/// threads that compute the next ones.
public final class Session: @unchecked Sendable {
    public let model: LanguageModel
    public let contextLength: Int
    public let batchSize: Int
    /// Tokens in the cache; the next token evaluated gets this position.
    public private(set) var position = 0
    let workspace: Workspace
    let cache: KVCache

    /// `threads` defaults to every core; `batchSize` bounds how many tokens one forward pass takes.
    public init(model: LanguageModel, contextLength: Int, batchSize: Int = 512, threads: Int? = nil) throws {
        guard contextLength > 0 else { throw QuantKitError("context length must be positive", path: model.path) }
        if contextLength > model.config.trainedContext {
            throw QuantKitError("context \(contextLength) is longer than the model's trained context of \(model.config.trainedContext) tokens", path: model.path)
        }
        self.model = model
        self.contextLength = contextLength
        self.batchSize = max(1, min(batchSize, contextLength))
        let pool: ThreadPool
        let n = threads ?? ThreadPool.coreCount
        pool = n <= ThreadPool.shared.threadCount ? ThreadPool.shared : ThreadPool(threads: n)
        workspace = Workspace(config: model.config, maxTokens: self.batchSize, pool: pool, threads: max(1, n))
        cache = KVCache(config: model.config, capacity: contextLength)
    }

    public var config: ModelConfig { model.config }

    /// Sees the input of every matrix multiplication from now on (nil: none).
    public var activationObserver: ActivationObserver? {
        get { workspace.observer }
        set { workspace.observer = newValue }
    }
    public var vocabularySize: Int { model.config.vocabularySize }

    /// Threads this session computes with.
    public var threads: Int { workspace.threads }

    /// Runs `body(i)` for i in 0..<count on this session's threads.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        workspace.pool.parallelFor(count, threads: workspace.threads, body)
    }

    /// Forgets every token (the next evaluation starts at position 0).
    public func reset() { position = 0 }

    /// Evaluates `tokens` at the current position and appends them to the cache. The logits of
    /// the tokens whose indices are in `outputs` are written to `logits`, one row of
    /// `vocabularySize` floats each, in order.
    public func evaluate(_ tokens: [Int32], outputs: Range<Int>, into logits: UnsafeMutablePointer<Float>) throws {
        guard position + tokens.count <= contextLength else {
            throw QuantKitError("context is full: \(position) + \(tokens.count) tokens exceed \(contextLength)", path: model.path)
        }
        precondition(outputs.lowerBound >= 0 && outputs.upperBound <= tokens.count)
        let vocab = Int32(vocabularySize)
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocab }) {
            throw QuantKitError("token id \(bad) is outside the vocabulary (size \(vocab))", path: model.path)
        }
        try tokens.withUnsafeBufferPointer { buf in
            var b = 0
            while b < buf.count {
                let n = min(batchSize, buf.count - b)
                let batch = b ..< b + n
                let outs = max(batch.lowerBound, outputs.lowerBound) ..< min(batch.upperBound, outputs.upperBound)
                let local = outs.isEmpty ? 0 ..< 0 : (outs.lowerBound - b) ..< (outs.upperBound - b)
                let dst = logits + (outs.isEmpty ? 0 : (outs.lowerBound - outputs.lowerBound) * vocabularySize)
                model.decoder.forward(tokens: buf.baseAddress! + b, count: n, start: position, outputs: local,
                                      ws: workspace, cache: cache, logits: dst)
                position += n
                b += n
                try Task.checkCancellation()
            }
        }
    }

    /// Evaluates `tokens` and returns the logits of the last one.
    public func evaluateLast(_ tokens: [Int32]) throws -> [Float] {
        var out = [Float](repeating: 0, count: vocabularySize)
        try out.withUnsafeMutableBufferPointer { try evaluate(tokens, outputs: tokens.count - 1 ..< tokens.count, into: $0.baseAddress!) }
        return out
    }
}
