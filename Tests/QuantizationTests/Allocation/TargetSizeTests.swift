import Foundation
import GGUF
import QKCore
import Quantization
import Testing

/// Quantizing to a target size: size parsing, the knapsack allocator, and whole plans on a real
/// model (SmolLM2-135M F32) — the written file is exactly the planned size and fits the target.
@Suite(.serialized) struct TargetSizeTests {
    static var smollm: String {
        get throws {
            let models = ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(mixPackageRoot)/models"
            return try requireFile("\(models)/derived/smollm2-F32.gguf", "run scripts/fetch-models.sh (models/derived)")
        }
    }

    /// Types with no importance requirement, quick to measure: enough for plans of every size.
    static let quickTypes: [GGMLType] = [.q4_0, .q5_0, .q8_0, .q2_K, .q4_K, .q6_K, .iq4_nl, .f16]

    static func planner(sample: Int = 1 << 14) throws -> TargetSizePlanner {
        var p = try TargetSizePlanner(model: GGUFModel(path: smollm), imatrixPath: nil, candidates: quickTypes)
        p.profiler.sampleElements = sample
        return p
    }

    static func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "qk-target-size-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func parsesSizes() throws {
        #expect(try SizeTarget.parseBytes("4.2GB") == 4_200_000_000)
        #expect(try SizeTarget.parseBytes("600MiB") == 600 << 20)
        #expect(try SizeTarget.parseBytes("1.5 GiB") == 3 << 29)
        #expect(try SizeTarget.parseBytes("123456") == 123_456)
        #expect(try SizeTarget.parseBytes("2kb") == 2000)
        #expect(try SizeTarget.parseBytes("10 KiB") == 10_240)
        for bad in ["", "GB", "-1GB", "4.2 XB", "1e3"] { #expect(throws: QuantKitError.self) { try SizeTarget.parseBytes(bad) } }
    }

    /// The allocator's choice equals the best of all combinations on small random instances.
    @Test func allocatorIsOptimalOnSmallInstances() {
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func rand(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        for _ in 0 ..< 200 {
            let items: [[BitAllocator.Option]] = (0 ..< 2 + rand(5)).map { _ in
                (0 ..< 1 + rand(4)).map { _ in .init(bytes: 1 + rand(50), error: Double(rand(1000)) / 7) }
            }
            let minimum = BitAllocator.minimumBytes(items)
            let budget = minimum + rand(120)
            // Brute force over every combination.
            var best = Double.infinity
            func walk(_ i: Int, _ bytes: Int, _ err: Double) {
                if bytes > budget { return }
                if i == items.count { best = min(best, err); return }
                for o in items[i] { walk(i + 1, bytes + o.bytes, err + o.error) }
            }
            walk(0, 0, 0)
            let s = BitAllocator.solve(items, budget: budget)!
            #expect(abs(s.error - best) < 1e-9)
            #expect(s.bytes <= budget)
            #expect(s.bytes == zip(items, s.choices).reduce(0) { $0 + $1.0[$1.1].bytes })
            #expect(BitAllocator.solve(items, budget: minimum - 1) == nil)
        }
    }

    /// More bits, less error: on a real tensor the measured error falls with each finer type.
    @Test func errorFallsWithBits() throws {
        let p = try Self.planner()
        let t = p.model.tensor(named: "blk.3.ffn_down.weight")!
        let profile = try p.profiler.profile(t, in: p.model, tiedOutput: true)
        let err = Dictionary(uniqueKeysWithValues: profile.candidates.map { ($0.type, $0.error) })
        #expect(err[.q2_K]! > err[.q4_K]!)
        #expect(err[.q4_K]! > err[.q6_K]!)
        #expect(err[.q6_K]! > err[.q8_0]!)
        #expect(err[.q4_0]! > err[.q5_0]!)
        #expect(err[.q8_0]! > err[.f16]!)
        #expect(err[.f32] == 0)
        // Candidates come cheapest first, each with its exact padded size.
        #expect(profile.candidates.map(\.bytes) == profile.candidates.map(\.bytes).sorted())
        #expect(profile.candidates.first { $0.type == .q4_K }!.bytes == GGMLType.q4_K.rowSize(1536) * 576)
    }

    /// The file written has exactly the planned size, within the target; the plan saved as
    /// NAME=TYPE lines and replayed writes the identical file.
    @Test func writtenFileFitsTargetAndPlanReplays() throws {
        let p = try Self.planner()
        let profiles = try p.measure()
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = 95_000_000
        let sized = try p.plan(target: .fileBytes(target), profiles: profiles)
        #expect(sized.fileBytes <= target)
        #expect(sized.fileBytes > target - 2_000_000)   // the budget is used, not wasted
        let a = try GGUFQuantizer.run(input: p.model, plan: sized.plan, metadata: sized.metadata, outputPath: "\(dir)/a.gguf",
                                      imatrix: nil)
        let written = try FileManager.default.attributesOfItem(atPath: "\(dir)/a.gguf")[.size] as! Int
        #expect(written == sized.fileBytes)
        #expect(a.fileBytes == sized.fileBytes)
        let back = try GGUFModel(path: "\(dir)/a.gguf")
        for t in sized.plan { #expect(back.tensor(named: t.name)?.type == t.outputType) }
        #expect(Set(sized.plan.map(\.outputType)).count > 2)   // a real mix, not one type

        let text = PlanFile.format(sized)
        let replay = try p.plan(types: PlanFile.parse(text))
        #expect(replay.plan.map(\.outputType) == sized.plan.map(\.outputType))
        #expect(replay.fileBytes == sized.fileBytes)
        _ = try GGUFQuantizer.run(input: p.model, plan: replay.plan, metadata: replay.metadata, outputPath: "\(dir)/b.gguf", imatrix: nil)
        #expect(FileManager.default.contents(atPath: "\(dir)/a.gguf") == FileManager.default.contents(atPath: "\(dir)/b.gguf"))

        // Bits per weight: the tensor data fits bpw × elements / 8.
        let bpw = try p.plan(target: .bitsPerWeight(5.0), profiles: profiles)
        let elements = bpw.plan.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(Double((bpw.fileBytes - bpw.headerBytes) * 8) <= 5.0 * Double(elements))
    }

    /// A larger target never gives a larger estimated error.
    @Test func errorFallsWithTarget() throws {
        let p = try Self.planner(sample: 1 << 12)
        let profiles = try p.measure()
        let errors = try [75_000_000, 85_000_000, 100_000_000, 150_000_000].map { try p.plan(target: .fileBytes($0), profiles: profiles).totalError }
        #expect(errors == errors.sorted(by: >))
    }

    @Test func tooSmallTargetNamesTheMinimum() throws {
        let p = try Self.planner(sample: 1 << 12)
        let profiles = try p.measure()
        do {
            _ = try p.plan(target: .fileBytes(10_000_000), profiles: profiles)
            Issue.record("a 10 MB target should not fit")
        } catch let e as QuantKitError {
            #expect(e.description.contains("too small"))
            let minimum = profiles.reduce(0) { $0 + $1.candidates[0].bytes }
            #expect(e.description.contains("smallest file"))
            // The named minimum is reachable: planning exactly that size works.
            let digits = e.description.split(separator: " ").first { Int($0) != nil && Int($0)! > minimum }
            let named = Int(digits!)!
            #expect(try p.plan(target: .fileBytes(named), profiles: profiles).fileBytes == named)
            #expect(throws: QuantKitError.self) { try p.plan(target: .fileBytes(named - 1), profiles: profiles) }
        }
    }

    @Test func planFileErrors() throws {
        #expect(try PlanFile.parse("a.weight=Q4_K # c\n\n# x\nb.weight = q8_0\n") == ["a.weight": .q4_K, "b.weight": .q8_0])
        #expect(throws: QuantKitError.self) { try PlanFile.parse("a.weight Q4_K") }
        #expect(throws: QuantKitError.self) { try PlanFile.parse("a.weight=Q9_K") }
        let p = try Self.planner()
        #expect(throws: QuantKitError.self) { try p.plan(types: ["nope.weight": .q4_0]) }
        #expect(throws: QuantKitError.self) { try p.plan(types: ["blk.0.attn_norm.weight": .q4_0]) }   // never quantized
        #expect(throws: QuantKitError.self) { try p.plan(types: ["blk.0.attn_q.weight": .q4_K]) }      // 576 % 256 ≠ 0
    }
}
