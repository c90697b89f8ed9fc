import ArgumentParser
import Foundation
import GGUF
import Inspection
import QKCore
import SafeTensors

/// `quant inspect FILE`: what a model file holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarise a GGUF file, a safetensors file or a Hugging Face checkpoint directory.")

    @Argument(help: "GGUF file, safetensors file, or checkpoint directory.")
    var path: String

    @Flag(name: .long, help: "Print the complete metadata and every tensor as JSON.")
    var json = false

    /// A directory (checkpoint), an index, or a file not starting with the GGUF magic.
    static func isSafeTensors(_ path: String) throws -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw QuantKitError("no such file or directory", path: path)
        }
        if isDir.boolValue || path.hasSuffix(".json") { return true }
        guard let h = FileHandle(forReadingAtPath: path) else { throw QuantKitError("cannot open", path: path) }
        defer { try? h.close() }
        let magic = h.readData(ofLength: 4)
        return magic != Data("GGUF".utf8) && path.hasSuffix(".safetensors")
    }

    func run() throws {
        try CLI.guarded {
            if try Self.isSafeTensors(path) {
                let model = try SafeTensorsModel(path: path)
                print(json ? try ModelSummary.json(safetensors: model) : ModelSummary(safetensors: model).render())
                return
            }
            let model = try GGUFModel(path: path)
            if json {
                print(model.jsonSummary().serialized(pretty: true))
            } else {
                print(ModelSummary(gguf: model).render())
            }
        }
    }
}
