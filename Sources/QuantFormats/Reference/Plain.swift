import QKCore

/// The unquantized float types: F32 (copy), F16 and BF16 (rounded to nearest even).
enum Plain {
    static let f32Codec = RowCodec(
        quantize: { src, dst, n, _ in dst.copyMemory(from: src, byteCount: n * 4) },
        dequantize: { src, dst, n in UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4) })

    static let f16Codec = RowCodec(
        quantize: { src, dst, n, _ in
            HalfFloat.convertF32ToF16(src, dst.assumingMemoryBound(to: UInt16.self), n)
        },
        dequantize: { src, dst, n in
            HalfFloat.convertF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
        })

    static let bf16Codec = RowCodec(
        quantize: { src, dst, n, _ in
            HalfFloat.convertF32ToBF16(src, dst.assumingMemoryBound(to: UInt16.self), n)
        },
        dequantize: { src, dst, n in
            HalfFloat.convertBF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
        })
}
