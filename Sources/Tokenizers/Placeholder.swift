/// Tokenizers: filled in by the tokenizer work.
enum TokenizersPlaceholder {}
