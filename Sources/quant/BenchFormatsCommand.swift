import ArgumentParser
import Foundation
import GGUF
import QKCore
import QuantFormats
import Quantization

/// `quant bench-formats`: quantization throughput per type, to compare with ggml's.
struct BenchFormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-formats",
        abstract: "Measure quantize throughput (MB/s of F32 input) per type and thread count.")

    @Option(name: .long, help: "GGUF whose first tensor is a 2-D F32 matrix to quantize.")
    var input: String

    @Option(name: .long, help: "GGUF imatrix with <tensor>.in_sum2/.counts (used for every type when given).")
    var imatrix: String?

    @Option(name: .long, help: "Comma-separated type names (default: every supported type).")
    var types: String?

    @Option(name: .long, help: "Comma-separated thread counts.")
    var threads: String = "1"

    @Option(name: .long, help: "Seconds to run each measurement.")
    var seconds: Double = 1

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let file = try GGUFFile(path: input)
        guard let t = file.tensors.first, t.type == .f32, t.shape.count == 2 else {
            throw ValidationError("\(input): first tensor must be a 2-D F32 matrix")
        }
        let x = file.data(of: t).bindMemory(to: Float.self)
        let weights = try imatrix.map { try ImportanceMatrix(path: $0).weights(for: t.name) ?? [] }
        let typeList = try (types?.split(separator: ",").map { name -> GGMLType in
            guard let ty = GGMLType(name: String(name)) else { throw ValidationError("unknown type \(name)") }
            return ty
        }) ?? QuantCodec.supportedTypes
        let threadList = threads.split(separator: ",").compactMap { Int($0) }
        var results: [[String: Any]] = []
        for type in typeList {
            let w = (weights?.isEmpty ?? true) ? nil : weights
            if QuantCodec.requiresImportance(type) && w == nil { continue }
            var out = [UInt8](repeating: 0, count: type.rowSize(t.rowLength) * t.rowCount)
            for nth in threadList {
                let pool = ThreadPool(threads: nth)
                var reps = 0
                var elapsed = 0.0
                try out.withUnsafeMutableBytes { o in
                    try (w ?? []).withUnsafeBufferPointer { wp in
                        let imp = w == nil ? nil : wp.baseAddress
                        func once() throws {
                            try QuantCodec.quantize(type, src: x.baseAddress!, dst: o.baseAddress!, rows: t.rowCount, n: t.rowLength, importance: imp, pool: pool)
                        }
                        try once()
                        let start = DispatchTime.now().uptimeNanoseconds
                        repeat {
                            try once()
                            reps += 1
                            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        } while elapsed < seconds
                    }
                }
                let mbps = Double(t.elementCount * 4 * reps) / elapsed / 1e6
                results.append(["type": type.name, "threads": nth, "imatrix": w != nil, "mb_per_s": mbps])
                if !json {
                    let name = type.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                    print("\(name) \(nth) thread(s) \(w != nil ? "imatrix" : "       ")  \(String(format: "%9.1f", mbps)) MB/s")
                }
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
