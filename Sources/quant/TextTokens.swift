import Foundation
import Inference
import QKCore
import Tokenizers

/// Tokenizing input text for the engine commands, as llama.cpp's tools do.
enum TextTokens {
    struct Vocabulary {
        let tokenizer: Tokenizer
        /// The token that replaces the first of each perplexity chunk (llama-perplexity: BOS when
        /// the vocabulary adds one).
        var bosForChunks: Int32? { tokenizer.addBOS ? tokenizer.bos : nil }
    }

    static func vocabulary(of model: LanguageModel) throws -> Vocabulary {
        Vocabulary(tokenizer: try Tokenizer(model: model.file))
    }

    /// The whole file as llama-perplexity tokenizes it (special tokens added, none parsed).
    static func tokenize(file: String, with vocab: Vocabulary) throws -> [Int32] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw QuantKitError("cannot read the text file", path: file)
        }
        return data.withUnsafeBytes { raw in
            vocab.tokenizer.encode(utf8: raw.bindMemory(to: UInt8.self), addSpecial: true, parseSpecial: false)
        }
    }
}
