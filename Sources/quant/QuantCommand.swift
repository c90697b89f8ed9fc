import ArgumentParser

/// `quant`: make large language models small.
struct QuantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quant",
        abstract: "Quantize, evaluate, run and inspect LLM weights (GGUF, safetensors).",
        subcommands: [InspectCommand.self, ConvertCommand.self, QuantizeCommand.self, PerplexityCommand.self, GenerateCommand.self, ImatrixCommand.self,
                      PlanCommand.self, ExportCommand.self, BenchCommand.self, BenchFormatsCommand.self, BenchKernelsCommand.self])
}
