import Foundation
import QKCore
import SafeTensors
import Testing

/// Conversion throughput, for the record. Runs only with QUANTKIT_BENCH=1, and means
/// something only in a release build:
///
///     QUANTKIT_BENCH=1 swift test -c release --filter ConversionBenchmark
@Suite struct ConversionBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["QUANTKIT_BENCH"] != nil))
    func toF32Throughput() throws {
        // 16K elements stay in cache (compute speed); 16M elements measure memory speed.
        for (n, reps) in [(1 << 14, 2000), (16 << 20, 1)] {
            try run(n: n, reps: reps)
        }
    }

    func run(n: Int, reps: Int) throws {
        var rng = SplitMix64(seed: 7)
        let floats = (0..<n).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x3fff_ffff) }
        var dst = [Float](repeating: 0, count: n)
        for dtype in [SafeTensorsDType.f16, .bf16, .f32, .f64, .f8E4M3] {
            var src = [UInt8](repeating: 0, count: n * dtype.byteSize + 1)
            src.withUnsafeMutableBytes { raw in
                for i in 0..<n {
                    let v = floats[i]
                    switch dtype {
                    case .f16: raw.storeBytes(of: HalfFloat.f16Bits(v), toByteOffset: i * 2, as: UInt16.self)
                    case .bf16: raw.storeBytes(of: HalfFloat.bf16Bits(v), toByteOffset: i * 2, as: UInt16.self)
                    case .f32: raw.storeBytes(of: v, toByteOffset: i * 4, as: Float.self)
                    case .f64: raw.storeBytes(of: Double(v), toByteOffset: i * 8, as: Double.self)
                    default: raw[i] = UInt8(truncatingIfNeeded: v.bitPattern)
                    }
                }
            }
            for (aligned, parallel) in [(true, false), (false, false), (true, true)] where !parallel || n > 1 << 20 {
                let offset = aligned ? 0 : 1
                var best = Double.infinity
                for _ in 0..<7 {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<reps {
                        try src.withUnsafeBytes { s in
                            try dst.withUnsafeMutableBufferPointer { d in
                                try SafeTensorsConversion.toF32(UnsafeRawBufferPointer(rebasing: s[offset..<offset + n * dtype.byteSize]),
                                                                dtype: dtype, into: d, parallel: parallel)
                            }
                        }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(reps))
                }
                let inMB = Double(n * dtype.byteSize) / 1e6 / best
                let outMB = Double(n * 4) / 1e6 / best
                print(String(format: "bench %9d x %@ -> F32 %@%@: %7.0f MB/s in, %7.0f MB/s out, %6.0f M elements/s",
                             n, dtype.rawValue, aligned ? "aligned" : "misaligned", parallel ? " parallel" : "",
                             inMB, outMB, Double(n) / 1e6 / best))
            }
        }
    }
}
