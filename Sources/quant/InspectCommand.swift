import ArgumentParser
import Foundation
import GGUF
import Inspection
import QKCore

/// `quant inspect FILE`: what a model file holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarise a GGUF file, a safetensors file or a Hugging Face checkpoint directory.")

    @Argument(help: "GGUF file, safetensors file, or checkpoint directory.")
    var path: String

    @Flag(name: .long, help: "Print the complete metadata and every tensor as JSON.")
    var json = false

    func run() throws {
        try CLI.guarded {
            let model = try GGUFModel(path: path)
            if json {
                print(model.jsonSummary().serialized(pretty: true))
            } else {
                print(ModelSummary(gguf: model).render())
            }
        }
    }
}
