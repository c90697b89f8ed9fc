import Foundation
import GGUF
import QKCore
import Quantization
import Testing

/// Reading, writing and merging llama.cpp's imatrix formats, checked against files llama-imatrix
/// itself wrote (its collection output and its own conversions / merges of it).
@Suite struct ImatrixFormatTests {
    @Test func readsLlamaImatrixGGUF() throws {
        let d = try ImatrixData(path: Fixtures.llamaImatrix("smollm2", "F32"))
        #expect(d.entries.count == 30 * 7)       // q, k, v, output, gate, up, down per block
        #expect(d.chunkSize == 512 && d.chunkCount == 4 && d.storedChunkCount == 4)
        #expect(d.entries.values.allSatisfy { $0.counts == [2048] })
        #expect(d.entries["blk.0.ffn_down.weight"]!.sums.count == 1536)
        #expect(d.entries["blk.0.attn_q.weight"]!.sums.count == 576)
        #expect(d.entries["output.weight"] == nil)
    }

    /// Writing what we read gives llama-imatrix's own file back, byte for byte (it is what
    /// `llama-imatrix --in-file F -o OUT` writes, checked by the fixture script).
    @Test func ggufWriterReproducesLlamaImatrixBytes() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (model, type) in [("smollm2", "F32"), ("qwen25", "Q8_0")] {
            let src = Fixtures.llamaImatrix(model, type)
            try ImatrixData(path: src).writeGGUF(to: "\(dir)/out.gguf")
            #expect(try Fixtures.sha256("\(dir)/out.gguf") == Fixtures.sha256(src), "\(model) \(type)")
        }
    }

    /// Legacy output and merges equal llama-imatrix's (`--output-format dat`, two `--in-file`s).
    @Test func legacyAndMergesMatchLlamaImatrix() throws {
        let ref = try Fixtures.reference()["conversions"] as! [String: String]
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f32 = try ImatrixData(path: Fixtures.llamaImatrix("smollm2", "F32"))
        let q8 = try ImatrixData(path: Fixtures.llamaImatrix("smollm2", "Q8_0"))

        var one = ImatrixData(chunkSize: 512)
        try one.merge(f32, chunkSize: 512)
        try one.writeLegacy(to: "\(dir)/one.dat")
        #expect(try Fixtures.sha256("\(dir)/one.dat") == ref["dat"])

        var two = ImatrixData(chunkSize: 512)
        try two.merge(f32, chunkSize: 512)
        try two.merge(q8, chunkSize: 512)
        try two.writeGGUF(to: "\(dir)/merge.gguf")
        #expect(try Fixtures.sha256("\(dir)/merge.gguf") == ref["merge_gguf"])
        try two.writeLegacy(to: "\(dir)/merge.dat")
        #expect(try Fixtures.sha256("\(dir)/merge.dat") == ref["merge_dat"])
        #expect(two.chunkCount == 8 && two.entries["blk.3.attn_v.weight"]!.counts == [4096])

        // A legacy file (bytes equal to llama's, checked above) read back and merged with a GGUF one.
        let legacy = try ImatrixData(path: "\(dir)/one.dat")
        #expect(legacy.isLegacy && legacy.storedChunkCount == 4 && legacy.datasets == f32.datasets)
        var mixed = ImatrixData(chunkSize: 512)
        try mixed.merge(legacy, chunkSize: 512)
        try mixed.merge(q8, chunkSize: 512)
        try mixed.writeGGUF(to: "\(dir)/mixed.gguf")
        #expect(try Fixtures.sha256("\(dir)/mixed.gguf") == ref["merge_dat_gguf"])
    }

    /// The importance weights a quantizer sees are the same whichever format carries them.
    @Test func normalisedWeightsAgreeAcrossFormats() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gguf = try ImatrixData(path: Fixtures.llamaImatrix("smollm2", "F32"))
        var raw = ImatrixData(chunkSize: 512)
        try raw.merge(gguf, chunkSize: 512)
        try raw.writeLegacy(to: "\(dir)/m.dat")
        let a = try ImportanceMatrix(path: Fixtures.llamaImatrix("smollm2", "F32"))
        let b = try ImportanceMatrix(path: "\(dir)/m.dat")
        #expect(a.entries.keys.sorted() == b.entries.keys.sorted())
        for (name, w) in a.entries {
            let v = b.entries[name]!
            // mean × 4 / 4: exact for these power-of-two counts.
            #expect(w == v, "\(name)")
        }
        #expect(a.chunkCount == 4 && b.chunkCount == 4)
    }

    @Test func mergeRejectsMismatchedShapes() throws {
        var d = ImatrixData(chunkSize: 512)
        try d.merge(ImatrixData(entries: ["blk.0.attn_q.weight": .init(sums: [1, 2], counts: [1])], chunkSize: 512), chunkSize: 512)
        let other = ImatrixData(entries: ["blk.0.attn_q.weight": .init(sums: [1, 2, 3], counts: [1])], chunkSize: 512)
        #expect(throws: QuantKitError.self) { try d.merge(other, chunkSize: 512, otherPath: "b.gguf") }
        // Per-expert counts: a single count is broadcast, counts add per expert.
        var moe = ImatrixData(chunkSize: 512)
        try moe.merge(ImatrixData(entries: ["blk.0.ffn_up_exps.weight": .init(sums: [1, 1, 1, 1], counts: [2, 0])], chunkSize: 512), chunkSize: 512)
        try moe.merge(ImatrixData(entries: ["blk.0.ffn_up_exps.weight": .init(sums: [1, 1, 1, 1], counts: [3])], chunkSize: 512), chunkSize: 512)
        #expect(moe.entries["blk.0.ffn_up_exps.weight"]!.counts == [5, 3])
        #expect(moe.normalized()["blk.0.ffn_up_exps.weight"]! == [0.4, 0.4, 2.0 / 3.0, 2.0 / 3.0])
    }

    @Test func hostileFilesGiveErrorsNamingTheFile() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = try Data(contentsOf: URL(fileURLWithPath: Fixtures.llamaImatrix("smollm2", "F32")))
        for (name, bytes) in [("trunc.gguf", src.prefix(5000)), ("empty.dat", Data()), ("garbage.dat", Data([5, 0, 0, 0, 255, 255, 255, 127]))] {
            let p = "\(dir)/\(name)"
            try bytes.write(to: URL(fileURLWithPath: p))
            do {
                _ = try ImatrixData(path: p)
                Issue.record("\(name) was accepted")
            } catch let e as QuantKitError {
                #expect(e.description.contains(p), "\(e)")
            }
        }
    }
}
