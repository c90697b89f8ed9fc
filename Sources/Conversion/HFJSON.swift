import SafeTensors

/// The JSON values of Hugging Face files (config.json, tokenizer.json): SafeTensors' parser,
/// which keeps number literals and member order (GGUF has a `JSONValue` of its own).
public typealias HFJSON = SafeTensors.JSONValue
