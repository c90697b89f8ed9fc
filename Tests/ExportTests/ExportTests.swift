import Conversion
import Foundation
import Inference
import QKCore
import SafeTensors
import Testing
@testable import Export

/// SmolLM2-135M as a Hugging Face checkpoint (rebuilt from the F32 GGUF by the shared fixture
/// tool), a scratch directory, and the independent numpy decoder.
enum Fixture {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static var models: String { ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(packageRoot)/models" }
    static let scratch = NSTemporaryDirectory() + "qk-export-tests"
    static let decoder = "\(packageRoot)/Tests/ExportTests/decode_export.py"
    static var philosophy: String { "\(models)/text/eng/philosophy.txt" }
    private static let lock = NSLock()

    /// The HF checkpoint of SmolLM2 (made once per machine).
    static func smollm() throws -> String {
        lock.lock(); defer { lock.unlock() }
        let dir = scratch + "/smollm2-hf"
        if FileManager.default.fileExists(atPath: dir + "/model.safetensors") { return dir }
        let gguf = "\(models)/derived/smollm2-F32.gguf"
        guard FileManager.default.fileExists(atPath: gguf) else { throw Failure("\(gguf) missing: run the engine tests or scripts/fetch-models.sh first") }
        var tool = "\(packageRoot)/../shared/tools/make_hf_checkpoint.py"
        if !FileManager.default.fileExists(atPath: tool) { tool = "/work/shared/tools/make_hf_checkpoint.py" }
        _ = try python([tool, gguf, dir])
        return dir
    }

    static func temporaryDirectory(_ tag: String) throws -> String {
        let d = scratch + "/\(tag)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Runs python3 with `args`; stdout, or an error with stderr.
    static func python(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure("python3 \(args.joined(separator: " ")) failed: \(String(decoding: e, as: UTF8.self))") }
        return String(decoding: o, as: UTF8.self)
    }

    static func json(_ s: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
    }

    /// Logits of `tokens` (every position) from the checkpoint in `dir`, through QuantKit's engine.
    static func logits(checkpoint dir: String, tokens: [Int32]) throws -> [Float] {
        let gguf = dir + "/engine-F32.gguf"
        defer { try? FileManager.default.removeItem(atPath: gguf) }
        let plan = try CheckpointConverter.plan(try HFCheckpoint(directory: dir), ConvertRequest(outType: .f32))
        try CheckpointConverter.run(plan, outputPath: gguf)
        let lm = try LanguageModel(path: gguf)
        let s = try Session(model: lm, contextLength: 128)
        var out = [Float](repeating: 0, count: tokens.count * lm.config.vocabularySize)
        try out.withUnsafeMutableBufferPointer { try s.evaluate(tokens, outputs: 0 ..< tokens.count, into: $0.baseAddress!) }
        return out
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

@Suite(.serialized) struct ExportTests {
    @Test func gridRoundsHalfToEvenAndClamps() {
        // Group of 8, absmax 1.5: scale 0.2; 0.3/0.2 = 1.5 → 2, 0.5/0.2 = 2.5 → 2, −1.5 → −7.5 → −8.
        let g = QuantGrid(bits: 4, groupSize: 8, symmetric: true, scaleType: .f32)
        let v: [Float] = [1.5, 0.3, 0.5, -1.5, 0, 0.1, -0.1, 0.7]
        let q = v.withUnsafeBufferPointer { QuantizedMatrix.rtn($0.baseAddress!, rows: 1, cols: 8, grid: g) }
        #expect(q.scales == [Float(1.5) / 7.5])
        #expect(q.codes.map { Int($0) - 8 } == [7, 2, 2, -8, 0, 0, 0, 4])  // 7.5 clamps to 7; 0.5 → 0 (even)
        let a = QuantGrid(bits: 4, groupSize: 8, symmetric: false, scaleType: .f32)
        let qa = v.withUnsafeBufferPointer { QuantizedMatrix.rtn($0.baseAddress!, rows: 1, cols: 8, grid: a) }
        #expect(qa.scales == [Float(3) / 15])
        #expect(qa.zeros == [8])  // round(1.5 / 0.2) = round(7.5) = 8
        #expect(qa.value(0, 0) == Float(7) * qa.scales[0] && qa.value(0, 3) == -8 * qa.scales[0])
    }

    /// RTN exports of SmolLM2 in every layout, decoded by the numpy implementation of each
    /// layout's documented dequantization, equal an independent RTN of the original weights
    /// exactly; every other tensor is copied bit for bit.
    @Test(arguments: [("compressed-tensors", true), ("compressed-tensors", false), ("gptq", true), ("gptq", false),
                      ("awq", true), ("awq", false)])
    func rtnExportsDecodeToIndependentRTN(format: String, symmetric: Bool) throws {
        let src = try Fixture.smollm()
        let out = try Fixture.temporaryDirectory("rtn-\(format)-\(symmetric)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = ExportRequest(format: ExportFormat(rawValue: format)!)
        r.groupSize = 64
        r.symmetric = symmetric
        let s = try Exporter.run(model: src, output: out, request: r)
        #expect(s.quantizedLayers == 30 * 7)
        #expect(s.files.contains("tokenizer.json") && s.files.contains("generation_config.json"))
        let report = try Fixture.json(try Fixture.python([Fixture.decoder, src, out]))
        #expect(report["layers"] as? Int == 210)
        #expect((report["mismatched_layers"] as? [Any])?.isEmpty == true, "\(report)")
        #expect(report["max_abs_diff"] as? Double == 0)
        #expect(report["copied_equal"] as? Bool == true)
        let config = try Fixture.json(String(contentsOfFile: out + "/config.json", encoding: .utf8))
        let qc = config["quantization_config"] as! [String: Any]
        switch format {
        case "compressed-tensors":
            #expect(qc["quant_method"] as? String == "compressed-tensors")
            #expect(qc["format"] as? String == "pack-quantized")
            #expect(qc["quantization_status"] as? String == "compressed")
            #expect(qc["ignore"] as? [String] == ["lm_head"])
            let w = ((qc["config_groups"] as! [String: Any])["group_0"] as! [String: Any])["weights"] as! [String: Any]
            #expect(w["group_size"] as? Int == 64 && w["num_bits"] as? Int == 4 && w["symmetric"] as? Bool == symmetric)
            #expect(w["strategy"] as? String == "group" && w["type"] as? String == "int")
        case "gptq":
            #expect(qc["quant_method"] as? String == "gptq" && qc["sym"] as? Bool == symmetric && qc["desc_act"] as? Bool == false)
            #expect(FileManager.default.fileExists(atPath: out + "/quantize_config.json"))
        default:
            #expect(qc["quant_method"] as? String == "awq" && qc["version"] as? String == "gemm" && qc["zero_point"] as? Bool == true)
        }
    }

    /// A GGUF input (the F32 GGUF the fixture was rebuilt from) gives the same export as its
    /// Hugging Face checkpoint: llama's q/k rows un-permuted, every other tensor equal.
    @Test func ggufInputMatchesTheCheckpoint() throws {
        let src = try Fixture.smollm()
        let out = try Fixture.temporaryDirectory("gguf-input")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = ExportRequest(format: .compressedTensors)
        r.groupSize = 64
        r.tokenizerDirectory = src
        let s = try Exporter.run(model: "\(Fixture.models)/derived/smollm2-F32.gguf", output: out, request: r)
        #expect(s.warnings.isEmpty && s.files.contains("tokenizer.json"))
        let report = try Fixture.json(try Fixture.python([Fixture.decoder, src, out]))
        #expect(report["max_abs_diff"] as? Double == 0 && report["copied_equal"] as? Bool == true, "\(report)")
        let config = try Fixture.json(String(contentsOfFile: out + "/config.json", encoding: .utf8))
        #expect(config["num_key_value_heads"] as? Int == 3 && config["tie_word_embeddings"] as? Bool == true)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: out)).contains { $0.hasPrefix(".quant-export") })
    }

    @Test func groupSizeThatDoesNotDivideIsAnErrorNamingTheLayer() throws {
        let src = try Fixture.smollm()
        let out = try Fixture.temporaryDirectory("bad-group")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = ExportRequest(format: .compressedTensors)
        r.groupSize = 128
        do {
            _ = try Exporter.run(model: src, output: out, request: r)
            Issue.record("group 128 on 576-wide layers should fail")
        } catch let e as QuantKitError {
            #expect(e.description.contains("model.layers.0."))
            #expect(e.description.contains("576"))
            #expect(e.description.contains("32, 64"))
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/model.safetensors"))
    }

    /// GPTQ on a synthetic layer with correlated inputs: the output error is well below RTN's,
    /// with and without act-order, and act-order's group index is a valid grouping.
    @Test func gptqBeatsRTNOnCorrelatedInputs() throws {
        let rows = 32, cols = 128, tokens = 512
        var rng = SplitMix(seed: 7)
        let w = (0 ..< rows * cols).map { _ in rng.normal() }
        var x = [Float](repeating: 0, count: tokens * cols)
        for t in 0 ..< tokens {
            let common = rng.normal()
            for c in 0 ..< cols { x[t * cols + c] = common * Float(c % 7 + 1) * 0.5 + rng.normal() * Float(1 + c % 3) }
        }
        var h = [Float](repeating: 0, count: cols * cols)
        for t in 0 ..< tokens { for i in 0 ..< cols { for j in 0 ..< cols { h[i * cols + j] += x[t * cols + i] * x[t * cols + j] } } }
        let grid = QuantGrid(bits: 4, groupSize: 32, symmetric: true, scaleType: .f32)
        func outputError(_ q: QuantizedMatrix) -> Double {
            let d = q.dequantized()
            var e = 0.0
            for t in 0 ..< tokens { for r in 0 ..< rows {
                var y: Float = 0
                for c in 0 ..< cols { y += x[t * cols + c] * (w[r * cols + c] - d[r * cols + c]) }
                e += Double(y * y)
            } }
            return e
        }
        let rtn = w.withUnsafeBufferPointer { QuantizedMatrix.rtn($0.baseAddress!, rows: rows, cols: cols, grid: grid) }
        let g = try GPTQ.quantize(w, rows: rows, cols: cols, hessian: h, grid: grid, actOrder: false)
        let ga = try GPTQ.quantize(w, rows: rows, cols: cols, hessian: h, grid: grid, actOrder: true)
        let (er, eg, ea) = (outputError(rtn), outputError(g), outputError(ga))
        #expect(eg < 0.8 * er, "rtn \(er) gptq \(eg)")
        #expect(ea < 0.8 * er, "rtn \(er) gptq act-order \(ea)")
        let gi = try #require(ga.groupIndex)
        #expect((0 ..< cols / 32).allSatisfy { k in gi.filter { $0 == Int32(k) }.count == 32 })
    }

    /// AWQ's scales, folded into the RMSNorms and up_proj without quantizing, leave the model's
    /// outputs unchanged up to float error; the search picks non-trivial scales that lower the
    /// sampled output error below RTN's.
    @Test func awqFoldKeepsTheUnquantizedModel() throws {
        let src = try Fixture.smollm()
        let out = try Fixture.temporaryDirectory("awq-fold")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = ExportRequest(format: .compressedTensors)
        r.method = .awq
        r.groupSize = 64
        r.calibrationPath = Fixture.philosophy
        r.calibrationTokens = 1024
        r.awqSamples = 256
        r.foldOnly = true
        let s = try Exporter.run(model: src, output: out, request: r)
        let choices = try #require(s.awq)
        #expect(choices.count == 30 * 3)
        #expect(choices.allSatisfy { $0.error <= $0.rtnError })
        #expect(choices.filter { $0.ratio > 0 }.count > 45, "\(choices.map(\.ratio))")
        // The folded norms really changed.
        let a = try SafeTensorsModel(path: src), b = try SafeTensorsModel(path: out)
        var na = [Float](repeating: 0, count: 576), nb = na
        try na.withUnsafeMutableBufferPointer { try a.convertToF32("model.layers.3.input_layernorm.weight", into: $0) }
        try nb.withUnsafeMutableBufferPointer { try b.convertToF32("model.layers.3.input_layernorm.weight", into: $0) }
        #expect(na != nb)
        let tokens: [Int32] = [504, 3458, 282, 5549, 314, 253, 1345, 30, 378, 6092, 1345, 28, 314, 260, 4093, 282, 2743, 30]
        let la = try Fixture.logits(checkpoint: src, tokens: tokens)
        let lb = try Fixture.logits(checkpoint: out, tokens: tokens)
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in la.indices { maxDiff = max(maxDiff, abs(la[i] - lb[i])); maxAbs = max(maxAbs, abs(la[i])) }
        #expect(maxDiff < 2e-3 * maxAbs, "max |Δlogit| \(maxDiff) of \(maxAbs)")
    }

    /// Calibrated exports (GPTQ in GPTQ layout, AWQ in AWQ layout) decode with the numpy
    /// decoders, and their weights (AWQ's scale undone) are close to the originals: mean |Δw|
    /// at most 1.5 × RTN's (both methods trade some weight error for less output error).
    @Test(arguments: [("gptq", "gptq"), ("awq", "awq")])
    func calibratedExportsDecode(format: String, method: String) throws {
        let src = try Fixture.smollm()
        let out = try Fixture.temporaryDirectory("cal-\(format)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = ExportRequest(format: ExportFormat(rawValue: format)!)
        r.method = ExportMethod(rawValue: method)!
        r.groupSize = 64
        r.calibrationPath = Fixture.philosophy
        r.calibrationTokens = 1024
        r.awqSamples = 256
        if method == "gptq" { r.hessianMemory = 48 << 20 }   // of 400 MB of Hessians: streamed in several passes
        let s = try Exporter.run(model: src, output: out, request: r)
        #expect(s.calibrationTokens == 1024)
        if method == "gptq" {
            let passes = try #require(s.calibrationPasses), peak = try #require(s.hessianPeakBytes)
            #expect(passes >= 9 && peak <= 48 << 20, "\(passes) passes, \(peak) bytes held")
        }
        let layer = "model.layers.5.self_attn.q_proj"
        let dump = out + "/decoded.f32"
        _ = try Fixture.python([Fixture.decoder, src, out, "--no-reference", "--dump", layer, dump])
        var decoded = try Data(contentsOf: URL(fileURLWithPath: dump)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let m = try SafeTensorsModel(path: src)
        var orig = [Float](repeating: 0, count: 576 * 576)
        try orig.withUnsafeMutableBufferPointer { try m.convertToF32(layer + ".weight", into: $0) }
        #expect(decoded.count == orig.count)
        if method == "awq" {
            // q_proj's columns were multiplied by s and input_layernorm divided by it: undo.
            let q = try SafeTensorsModel(path: out)
            var a = [Float](repeating: 0, count: 576), b = a
            try a.withUnsafeMutableBufferPointer { try m.convertToF32("model.layers.5.input_layernorm.weight", into: $0) }
            try b.withUnsafeMutableBufferPointer { try q.convertToF32("model.layers.5.input_layernorm.weight", into: $0) }
            #expect(a != b)
            for r in 0 ..< 576 { for c in 0 ..< 576 { decoded[r * 576 + c] *= b[c] / a[c] } }
        }
        let grid = QuantGrid(bits: 4, groupSize: 64, symmetric: true, scaleType: .f16)
        let rtn = orig.withUnsafeBufferPointer { QuantizedMatrix.rtn($0.baseAddress!, rows: 576, cols: 576, grid: grid) }.dequantized()
        var eq = 0.0, er = 0.0
        for i in orig.indices { eq += Double(abs(decoded[i] - orig[i])); er += Double(abs(rtn[i] - orig[i])) }
        #expect(eq < 1.5 * er, "mean |Δw| \(eq / Double(orig.count)) vs RTN \(er / Double(orig.count))")
    }
}

/// Deterministic normal samples.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) + 1e-7 }
    mutating func normal() -> Float { (-2 * logf(uniform())).squareRoot() * cosf(2 * .pi * uniform()) }
}

/// The weighted group search GPTQ uses: never worse than min/max on the weighted error, and
/// clearly better on average, for both grids.
@Test func groupSearchBeatsMinMaxOnWeightedError() {
    var rng = SplitMix(seed: 11)
    for symmetric in [true, false] {
        let grid = QuantGrid(bits: 4, groupSize: 64, symmetric: symmetric, scaleType: .f16)
        var plainTotal = 0.0, searchTotal = 0.0
        for _ in 0 ..< 200 {
            let v = (0 ..< 64).map { _ in rng.normal() * (rng.uniform() < 0.05 ? 4 : 1) + (symmetric ? 0 : 0.3) }
            let w = (0 ..< 64).map { _ in rng.uniform() * rng.uniform() * 10 }
            func error(_ p: (scale: Float, zero: Int)) -> Double {
                var e = 0.0
                for i in 0 ..< 64 {
                    let d = v[i] - Float(Int(grid.code(v[i], scale: p.scale, zero: p.zero)) - p.zero) * p.scale
                    e += Double(w[i] * d * d)
                }
                return e
            }
            let plain = v.withUnsafeBufferPointer { grid.parameters($0.baseAddress!, count: 64) }
            let found = v.withUnsafeBufferPointer { vb in w.withUnsafeBufferPointer { grid.searchParameters(vb.baseAddress!, count: 64, weights: $0.baseAddress!) } }
            #expect(found.scale == grid.stored(found.scale))   // representable in the file's scale type
            #expect(error(found) <= error(plain))
            plainTotal += error(plain)
            searchTotal += error(found)
        }
        print("group search, symmetric \(symmetric): \(searchTotal / plainTotal) of min/max's weighted error")
        #expect(searchTotal < (symmetric ? 0.85 : 0.92) * plainTotal, "symmetric \(symmetric): search \(searchTotal) vs min/max \(plainTotal)")
    }
}
