import ArgumentParser
import DotKernels
import Foundation
import QKCore
import QuantFormats

/// `quant bench-kernels`: matmul throughput of the DotKernels API per weight type.
///
/// Times `quantizeActivations` + `matmul` (rows split over `--threads` threads, as the engine
/// does) for one token (gemv, reported as GB/s of weights streamed) and for `--tokens` tokens
/// (gemm, GFLOP/s). Each figure is the fastest of repeated runs within `--seconds`. For the same
/// figures next to ggml's, in one process, see bench/bench-kernels.sh.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Measure quantized matmul throughput (gemv GB/s, gemm GFLOP/s) per weight type.")

    @Option(name: .long, help: "Comma-separated weight types (default: every type with a kernel).")
    var types: String?

    @Option(name: .long, help: "Row length (elements per weight row).")
    var n: Int = 4096

    @Option(name: .long, help: "Weight rows.")
    var rows: Int = 4096

    @Option(name: .long, help: "Tokens for the gemm measurement (0: skip).")
    var tokens: Int = 512

    @Option(name: .long, help: "Threads (rows are split over them).")
    var threads: Int = 1

    @Option(name: .long, help: "Seconds per measurement.")
    var seconds: Double = 0.5

    @Flag(name: .long, help: "Use the Swift reference kernels instead of the fastest ones.")
    var reference = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let typeList = try (types?.split(separator: ",").map { try CLI.ggmlType(String($0)) })
            ?? GGMLType.allCases.filter { DotKernel.forWeights($0) != nil }
        let pool = ThreadPool(threads: threads)
        var results: [[String: Any]] = []
        if !json {
            print("# \(rows) x \(n) weights, \(threads) thread(s), kernels: \(reference ? "reference" : DotKernel.hasAVX2 ? "avx2" : "reference (no AVX2)")")
            print("type      gemv GB/s   gemm GFLOP/s (\(tokens) tokens)")
        }
        for type in typeList {
            guard let k = reference ? DotKernel.reference(type) : DotKernel.forWeights(type) else {
                throw ValidationError("no kernel for \(type)")
            }
            guard n % type.blockSize == 0 else { throw ValidationError("n must be a multiple of \(type.blockSize) for \(type)") }
            let w = try Self.weights(type, rows: rows, n: n)
            let maxTokens = max(tokens, 1)
            var g = SplitMix(seed: 42)
            let x = (0 ..< maxTokens * n).map { _ in g.gaussian() }
            var act = [UInt8](repeating: 0, count: maxTokens * k.activationRowBytes(n: n))
            var out = [Float](repeating: 0, count: maxTokens * rows)
            func time(_ t: Int) -> Double {
                var best = Double.infinity
                let start = DispatchTime.now().uptimeNanoseconds
                var reps = 0
                repeat {
                    let c = DispatchTime.now().uptimeNanoseconds
                    x.withUnsafeBufferPointer { xp in
                        act.withUnsafeMutableBytes { ap in
                            k.quantizeActivations(xp.baseAddress!, xStride: n, tokens: t, n: n, into: ap.baseAddress!)
                        }
                    }
                    w.withUnsafeBytes { wp in
                        act.withUnsafeBytes { ap in
                            out.withUnsafeMutableBufferPointer { op in
                                let o = op.baseAddress!
                                let chunk = (rows + pool.threadCount * 8 - 1) / (pool.threadCount * 8) * 8
                                pool.parallelFor((rows + chunk - 1) / chunk) { c in
                                    let r0 = c * chunk
                                    k.matmul(n: n, weights: wp.baseAddress!, weightRowBytes: type.rowSize(n), rows: r0 ..< min(rows, r0 + chunk),
                                             activations: ap.baseAddress!, tokens: t, out: o, outStride: rows)
                                }
                            }
                        }
                    }
                    reps += 1
                    if reps > 1 { best = min(best, Double(DispatchTime.now().uptimeNanoseconds - c) / 1e9) }
                } while reps < 3 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds
                return best
            }
            let gemv = Double(w.count) / time(1) / 1e9
            let gemm = tokens > 0 ? 2 * Double(rows) * Double(n) * Double(tokens) / time(tokens) / 1e9 : 0
            results.append(["type": type.name, "gemv_gb_per_s": gemv, "gemm_gflop_per_s": gemm, "threads": threads,
                            "n": n, "rows": rows, "tokens": tokens, "kernel": k.implementation.rawValue])
            if !json {
                print("\(type.name.padding(toLength: 8, withPad: " ", startingAt: 0))  \(String(format: "%9.2f", gemv))   \(String(format: "%9.1f", gemm))")
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// rows × n weights of `type`: up to 256 distinct rows quantized from Gaussian data (with a
    /// random importance matrix where the type needs one), repeated to fill the matrix.
    static func weights(_ type: GGMLType, rows: Int, n: Int) throws -> [UInt8] {
        let distinct = min(rows, 256)
        var g = SplitMix(seed: 7)
        let x = (0 ..< distinct * n).map { _ in 0.02 * g.gaussian() }
        let imp: [Float]? = QuantCodec.requiresImportance(type) ? (0 ..< n).map { _ in 0.5 + g.uniform() } : nil
        let rb = type.rowSize(n)
        var w = [UInt8](repeating: 0, count: rows * rb)
        try x.withUnsafeBufferPointer { xp in
            try w.withUnsafeMutableBytes { wp in
                try (imp ?? []).withUnsafeBufferPointer { ip in
                    try QuantCodec.quantize(type, src: xp.baseAddress!, dst: wp.baseAddress!, rows: distinct, n: n,
                                            importance: imp == nil ? nil : ip.baseAddress)
                }
                for r in distinct ..< rows {
                    (wp.baseAddress! + r * rb).copyMemory(from: wp.baseAddress! + (r % distinct) * rb, byteCount: rb)
                }
            }
        }
        return w
    }
}

/// SplitMix64 with Box–Muller Gaussians (reproducible benchmark data).
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
    mutating func uniform() -> Float { Float(Double(next() >> 11) * 0x1p-53) }
    mutating func gaussian() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300), u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
