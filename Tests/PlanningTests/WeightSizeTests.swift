import Foundation
import GGUF
import Planning
import QKCore
import Quantization
import Testing

/// Planned weight sizes against what quantizers actually produce.
@Suite struct WeightSizeTests {
    /// Every file type of the three real models: our planned size equals llama-quantize's own
    /// `--dry-run` "quant size" (printed in MiB with 2 decimals; IQ types and Q2_K_S with the
    /// models' importance matrices, as ``WeightSizes/imatrixFileTypes`` assumes).
    @Test(arguments: Fixtures.names)
    func matchesLlamaQuantizeForEveryFileType(_ name: String) throws {
        let shape = try Fixtures.shape(name)
        let ref = try #require(Fixtures.section("weights")[name] as? [String: Double])
        #expect(ref.count >= 30)
        for plan in WeightSizes.all(shape) {
            let mib = try #require(ref[plan.fileType.name], "no llama-quantize figure for \(plan.fileType.name)")
            #expect(abs(ByteSize(bytes: plan.bytes).mib - mib) <= 0.0051, "\(name) \(plan.fileType.name): \(ByteSize(bytes: plan.bytes).mib) MiB vs llama-quantize \(mib) MiB")
        }
    }

    /// Files llama-quantize really wrote (SmolLM2 at 7 types, Gemma-3 and Qwen2.5 at Q8_0, Q4_0
    /// and Q4_K_M): the tensor data section (file size − data offset) is exactly the planned
    /// padded size; everything before it is header and metadata.
    @Test(arguments: Fixtures.names)
    func matchesFilesLlamaQuantizeWrote(_ name: String) throws {
        let shape = try Fixtures.shape(name)
        let files = try #require(Fixtures.section("files")[name] as? [String: [String: Int]])
        #expect(files.count >= 3)
        for (type, f) in files {
            let plan = try WeightSizes.plan(shape, fileType: try FileType.choice(named: type).fileType)
            #expect(f["file_bytes"]! - f["data_offset"]! == plan.dataSectionBytes, "\(name) \(type)")
            #expect(f["data_offset"]! < 8 << 20, "\(name) \(type): header and metadata")
        }
    }

    /// The planned size is the number `quant quantize --dry-run` reports, for every file type
    /// it supports (same job, no data touched).
    @Test(arguments: Fixtures.names)
    func equalsQuantizeDryRun(_ name: String) throws {
        let model = try GGUFModel(path: Fixtures.modelPath(name))
        let shape = try ModelShape(gguf: model)
        for c in FileType.choices where !c.isCopy {
            var r = QuantizeRequest(typeName: c.name)
            r.allowRequantize = true
            guard let job = try? QuantizeJob(model: model, request: r) else { continue }  // IQ types need an imatrix
            let plan = try WeightSizes.plan(shape, fileType: c.fileType, imatrix: false)
            #expect(plan.bytes == job.plan.reduce(0) { $0 + $1.outputBytes }, "\(name) \(c.name)")
        }
    }

    /// Files `quant quantize` really writes: the tensor data section is exactly the planned
    /// padded size and the rest of the file is header and metadata (SmolLM2 at Q8_0 and
    /// Q4_K_M; the other types are covered by the llama-quantize comparison above).
    @Test(arguments: ["Q8_0", "Q4_K_M"])
    func writtenFileMatchesPlan(_ type: String) throws {
        let input = try GGUFModel(path: Fixtures.modelPath("smollm2"))
        var r = QuantizeRequest(typeName: type)
        r.allowRequantize = true
        let job = try QuantizeJob(model: input, request: r)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(type)-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try GGUFQuantizer.run(input: input, plan: job.plan, metadata: job.metadata, outputPath: out, imatrix: nil,
                                  allowRequantize: true)
        let written = try GGUFFile(path: out)
        let plan = try WeightSizes.plan(ModelShape(gguf: input), fileType: try FileType.choice(named: type).fileType)
        #expect(written.tensors.reduce(0) { $0 + $1.byteCount } == plan.bytes)
        #expect(written.fileSize - written.dataOffset == plan.dataSectionBytes)
        #expect(written.dataOffset < 64 << 10 || written.dataOffset < plan.bytes / 10, "metadata is small next to the weights")
    }

    /// A model's layers, input and output parts add up to the total, and tied embeddings are
    /// duplicated when the output layer is offloaded.
    @Test func partsAddUp() throws {
        for name in Fixtures.names {
            let shape = try Fixtures.shape(name)
            let p = try WeightSizes.plan(shape, fileType: .q4_K_M)
            #expect(p.layerBytes.reduce(0, +) + p.inputBytes + p.outputBytes == p.bytes)
            let tied = !shape.tensors.contains { $0.name == "output.weight" }
            #expect((p.outputLayerBytes > p.outputBytes) == tied, "\(name)")
        }
    }
}
