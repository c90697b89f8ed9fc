import Foundation
import Inference
import QKCore

/// Tokenizing input text for the engine commands (filled in with the Tokenizers module).
enum TextTokens {
    struct Vocabulary {
        /// The token that replaces the first of each perplexity chunk (llama-perplexity: BOS when
        /// the vocabulary adds one).
        var bosForChunks: Int32?
    }

    static func vocabulary(of model: LanguageModel) throws -> Vocabulary {
        let addBOS = model.file["tokenizer.ggml.add_bos_token"]?.bool ?? false
        let bos = model.file["tokenizer.ggml.bos_token_id"]?.int
        return Vocabulary(bosForChunks: addBOS ? bos.map(Int32.init) : nil)
    }

    static func tokenize(file: String, with vocab: Vocabulary) throws -> [Int32] {
        throw QuantKitError("text tokenization is not available yet", path: file)
    }
}
