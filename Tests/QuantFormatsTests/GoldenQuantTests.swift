import Foundation
import GGUF
import QKCore
import QuantFormats
import Testing

/// ggml's own quantizer output (../shared/golden/quant): our bytes must equal them exactly,
/// with and without importance weights, and our dequantization must equal ggml's.
struct GoldenQuantTests {
    static let goldenDir: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/golden/quant").path
    }()

    /// Types checked against the golden files: every type QuantKit can quantize that has one.
    static var goldenTypes: [GGMLType] {
        QuantCodec.supportedTypes.filter {
            FileManager.default.fileExists(atPath: "\(goldenDir)/expected/\($0.name).gguf")
        }
    }

    /// The golden data must be there: a missing ../shared would otherwise pass vacuously.
    @Test func goldenDataIsPresent() {
        #expect(FileManager.default.fileExists(atPath: "\(Self.goldenDir)/inputs.gguf"), "golden data missing at \(Self.goldenDir)")
        #expect(Self.goldenTypes.count >= 24, "only \(Self.goldenTypes.count) golden types found")
    }

    static func floats(_ f: GGUFFile, _ t: GGUFTensorInfo) -> [Float] {
        precondition(t.type == .f32)
        return Array(f.data(of: t).bindMemory(to: Float.self))
    }

    @Test("quantize and dequantize match ggml byte for byte", arguments: goldenTypes)
    func matchesGGML(type: GGMLType) throws {
        let inputs = try GGUFFile(path: "\(Self.goldenDir)/inputs.gguf")
        let imatrix = try GGUFFile(path: "\(Self.goldenDir)/inputs.imatrix.gguf")
        let expected = try GGUFFile(path: "\(Self.goldenDir)/expected/\(type.name).gguf")
        var checked = 0
        for input in inputs.tensors {
            let x = Self.floats(inputs, input)
            let n = input.rowLength, rows = input.rowCount
            let sum2 = Self.floats(imatrix, imatrix.tensor(named: "\(input.name).in_sum2")!)
            let count = Self.floats(imatrix, imatrix.tensor(named: "\(input.name).counts")!)[0]
            let weights = sum2.map { $0 / count }
            for (suffix, w) in [("", nil as [Float]?), (".imat", weights)] {
                guard let want = expected.tensor(named: input.name + suffix) else { continue }
                #expect(want.type == type)
                var out = [UInt8](repeating: 0, count: type.rowSize(n) * rows)
                try x.withUnsafeBufferPointer { xs in
                    try out.withUnsafeMutableBytes { o in
                        if let w {
                            try w.withUnsafeBufferPointer { wp in
                                try QuantCodec.quantize(type, src: xs.baseAddress!, dst: o.baseAddress!, rows: rows, n: n, importance: wp.baseAddress)
                            }
                        } else {
                            try QuantCodec.quantize(type, src: xs.baseAddress!, dst: o.baseAddress!, rows: rows, n: n)
                        }
                    }
                }
                let wantBytes = Array(expected.data(of: want))
                if out != wantBytes {
                    let firstDiff = zip(out, wantBytes).enumerated().first { $0.element.0 != $0.element.1 }!.offset
                    Issue.record("\(type.name) \(input.name)\(suffix): bytes differ from ggml first at byte \(firstDiff) (block \(firstDiff / type.typeSize))")
                }
                // Dequantize ggml's bytes: must equal ggml's .deq exactly (bit patterns).
                let deqWant = Self.floats(expected, expected.tensor(named: input.name + suffix + ".deq")!)
                var deq = [Float](repeating: .nan, count: n * rows)
                try wantBytes.withUnsafeBytes { s in
                    try deq.withUnsafeMutableBufferPointer { d in
                        try QuantCodec.dequantize(type, src: s.baseAddress!, dst: d.baseAddress!, count: n * rows)
                    }
                }
                let mismatches = zip(deq, deqWant).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                #expect(mismatches == 0, "\(type.name) \(input.name)\(suffix): \(mismatches) dequantized values differ")
                checked += 1
            }
        }
        #expect(checked >= inputs.tensors.count, "\(type.name): only \(checked) golden tensors checked")
    }
}
