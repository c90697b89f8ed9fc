import ArgumentParser
import Foundation
import Inference
import QKCore
import Tokenizers

/// `quant generate`: text generation with the QuantKit engine, streamed token by token.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt (greedy at --temp 0), reporting tokens per second.")

    @Option(name: [.customShort("m"), .long], help: "The GGUF model.")
    var model: String

    @Option(name: [.customShort("p"), .long], help: "The prompt.")
    var prompt: String

    @Option(name: [.customShort("n"), .customLong("n-predict")], help: "Tokens to generate at most.")
    var count = 128

    @Option(name: .customLong("temp"), help: "Sampling temperature; 0 picks the most likely token.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: all).")
    var topK = 40

    @Option(name: .customLong("top-p"), help: "Keep the smallest set of tokens whose probability reaches p.")
    var topP: Float = 0.95

    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than min-p × the top token's probability.")
    var minP: Float = 0.05

    @Option(help: "Random seed (runs with the same seed repeat).")
    var seed: UInt64 = 0

    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length (default: prompt + n, at most the model's).")
    var context: Int?

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Wrap the prompt in the model's chat template as a user message.")
    var chat = false

    @Flag(name: .customLong("ids"), help: "Print the generated token ids on stderr too.")
    var printIDs = false

    func run() throws {
        try CLI.guarded {
            let lm = try LanguageModel(path: model)
            let tokenizer = try Tokenizer(model: lm.file)
            let messages = [(role: "user", content: prompt)]
            let text: String
            if !chat {
                text = prompt
            } else if tokenizer.chatTemplate == nil, lm.config.architecture == .gemma3 {
                // Gemma files often carry no template; Gemma's turn format is fixed.
                text = ChatTemplate.gemma.apply(messages, addAssistantPrompt: true)
            } else {
                text = try tokenizer.applyChatTemplate(messages, addAssistantPrompt: true)
            }
            let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: chat)
            guard !ids.isEmpty else { throw QuantKitError("the prompt is empty") }
            let ctx = min(context ?? (ids.count + count), lm.config.trainedContext)
            guard ids.count < ctx else {
                throw QuantKitError("the prompt has \(ids.count) tokens; the context holds \(ctx)")
            }
            let session = try Session(model: lm, contextLength: ctx, threads: threads)
            var sampler = Sampler(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed)
            let out = FileHandle.standardOutput
            if !chat { out.write(Data(prompt.utf8)) }
            var pending: [UInt8] = []
            var generated: [Int32] = []
            let stats = try session.generate(prompt: ids, maxTokens: count, sampler: &sampler,
                                             isEnd: { tokenizer.isEndOfGeneration($0) }) { id in
                generated.append(id)
                pending += tokenizer.piece(id)
                // Print whole UTF-8 characters only.
                let complete = Self.completeUTF8Prefix(pending)
                if complete > 0 {
                    out.write(Data(pending[..<complete]))
                    pending.removeFirst(complete)
                }
                return true
            }
            if !pending.isEmpty { out.write(Data(pending)) }
            out.write(Data("\n".utf8))
            if printIDs { FileHandle.standardError.write(Data("ids: \(generated)\n".utf8)) }
            FileHandle.standardError.write(Data(String(format: "prompt: %d tokens, %.1f tokens/s; generated: %d tokens, %.1f tokens/s\n",
                                                       stats.promptTokens, stats.promptTokensPerSecond,
                                                       stats.generatedTokens, stats.tokensPerSecond).utf8))
        }
    }

    /// Length of the longest prefix of `bytes` that ends on a UTF-8 character boundary.
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        var i = bytes.count
        var back = 0
        while i > 0 && back < 4 {
            let b = bytes[i - 1]
            if b & 0xC0 == 0x80 { i -= 1; back += 1; continue }
            let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            return back + 1 >= need ? bytes.count : i - 1
        }
        return bytes.count
    }
}
