import ArgumentParser

/// `quant`: make large language models small.
struct QuantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quant",
        abstract: "Quantize, inspect and convert LLM weights (GGUF, safetensors).",
        subcommands: [InspectCommand.self, QuantizeCommand.self, BenchFormatsCommand.self, BenchKernelsCommand.self])
}
